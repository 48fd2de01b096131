import {
  BadInputError,
  buildRwkvGraph,
  type Graph,
  GraphBuilder,
  hostTensor,
  type Node,
  randomRwkvWeights,
} from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { callDims } from '../../test-support/call-dims.js';
import { smallRwkv7Graphs } from '../../test-support/rwkv7-graphs.js';
import { standInRuntime } from '../../test-support/stand-in-runtime.js';
import { randomFeeds, threeCudaCalls, worstRelativeDifference } from '../../test-support/step-feeds.js';
import { probeGpu } from '../driver/probe.js';
import { GEMV_GROUP_WARPS, gemvGroupKernel, gemvSplit } from '../kernels/gemv-group.js';
import { groupGemvs, operandAccess } from './gemv-groups.js';
import { Plan } from './plan.js';
import { inferShapes } from './shapes.js';
import { contiguousSliceOffset } from './slice-alias.js';
import { buildUnits, type Unit } from './units.js';
import { DeviceWeights } from './weights.js';

function rwkv7Step(batch: number, nEmbd = 128, dimFfn = 224) {
  const { config, tensors } = randomRwkvWeights(
    { version: 7, nLayer: 3, nEmbd, nVocab: 101, headSize: 64, dimFfn },
    7,
  );
  const graph = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
  const dims = new Map(
    graph.inputs.map((v) => [v.name, v.shape.map((d) => (typeof d === 'number' ? d : batch))]),
  );
  return { graph, shapes: inferShapes(graph, dims, new Map()) };
}

/** Linears with at most 4 rows count as GEMVs (what half weights give on the GPU). */
const fewRows = (shapes: ReturnType<typeof rwkv7Step>['shapes']) => (n: Graph['nodes'][number]) => {
  const x = shapes.get(n.inputs[0]!.name)!;
  return x.reduce((a, b) => a * b, 1) / x[x.length - 1]! <= 4;
};

const label = (u: Unit) =>
  u.kind === 'fused'
    ? u.nodes.map((n) => n.op).join('+')
    : u.kind === 'gemv'
      ? `gemv${u.segments.length}`
      : u.node.op;

function expectTopological(graph: Graph, units: readonly Unit[]) {
  const known = new Set<string>([...graph.inputs.map((v) => v.name), ...graph.initializers.keys()]);
  for (const u of units) {
    for (const v of u.inputs)
      expect(known.has(v.name), `${label(u)} reads ${v.name} before it exists`).toBe(true);
    for (const o of u.outputs) known.add(o.name);
  }
  for (const o of graph.outputs) expect(known.has(o.name)).toBe(true);
}

describe('GEMV groups (decoding)', () => {
  it('runs an RWKV-7 layer as five grouped GEMV launches with their elementwise neighbours absorbed', () => {
    const { graph, shapes } = rwkv7Step(1);
    const before = buildUnits(graph, shapes);
    const after = groupGemvs(before, graph, shapes, fewRows(shapes));
    expectTopological(graph, after);
    const groups = after.filter((u) => u.kind === 'gemv');
    // Layer 0 has no value LoRA: six projections of the mixed inputs, then w2, a2, g2; layers 1
    // and 2: seven, then four (v2 with the value mix as its epilogue); each layer then the
    // output projection, the channel mix's key and value; the head last.
    expect(groups.map((g) => g.segments.length)).toEqual([6, 3, 1, 1, 1, 7, 4, 1, 1, 1, 7, 4, 1, 1, 1, 1]);
    expect(groups.flatMap((g) => g.segments).length).toBe(before.filter((u) => label(u) === 'Linear').length);
    expect(after.some((u) => label(u) === 'Linear')).toBe(false);
    // The activations between LoRA halves, relu(k)^2, the residual adds: gone into the GEMVs.
    for (const op of ['Tanh', 'Sigmoid', 'Relu+Mul', 'Add+Sigmoid'])
      expect(after.filter((u) => label(u) === op)).toHaveLength(0);
    expect(before.length - after.length).toBeGreaterThan(40);
    const v2 = groups[6]!.segments.find((s) => s.epilogue?.nodes.some((n) => n.op === 'Sub'));
    expect(v2?.linear.inputs[1]?.name).toBe('blocks.1.att.v2^T');
  });

  it.each([
    1, 3,
  ])('computes the six token-shift mixes in the projections that read their slices (%i streams)', (batch) => {
    const { graph, shapes } = rwkv7Step(batch);
    const before = buildUnits(graph, shapes);
    const slices = (n: Node) => contiguousSliceOffset(n, shapes, new Map());
    const after = groupGemvs(before, graph, shapes, fewRows(shapes), { sliceOffset: slices });
    expectTopological(graph, after);
    const mixes = (us: readonly Unit[]) => us.filter((u) => label(u) === 'Sub+Mul+Add');
    // before: per layer the six mixes and the channel mix's one (a plain prologue already)
    expect(mixes(before)).toHaveLength(6);
    expect(mixes(after)).toHaveLength(0);
    expect(after.filter((u) => label(u) === 'Slice')).toHaveLength(0);
    const groups = after.filter((u) => u.kind === 'gemv');
    expect(groups.map((g) => g.segments.length)).toEqual([6, 3, 1, 1, 1, 7, 4, 1, 1, 1, 7, 4, 1, 1, 1, 1]);
    for (const g of [groups[0]!, groups[5]!, groups[10]!]) {
      // each projection reads its own rows of the [6, B, C] mix: r, w, k, v, a, g
      const byWeight = new Map(
        g.segments.map((s) => [/att\.([^.]+)/.exec(s.linear.inputs[1]!.name)![1]!, s]),
      );
      const order = ['receptance', 'w1^T', 'key', 'value', 'a1^T', 'g1^T'];
      order.forEach((w, i) => {
        const s = byWeight.get(w)!;
        expect(s.prologueRow).toBe(i * batch);
        expect(s.prologue?.nodes.map((n) => n.op).join('+')).toBe('Sub+Mul+Add');
      });
    }
    // the value LoRA's input is the value mix too (layers 1 and 2)
    const v1 = groups[5]!.segments.find((s) => s.linear.inputs[1]!.name.endsWith('v1^T'))!;
    expect(v1.prologueRow).toBe(3 * batch);
    expect(after.length).toBeLessThan(groupGemvs(before, graph, shapes, fewRows(shapes)).length);
  });

  it.each([
    false,
    true,
  ])('takes no sliced prologue when a slice of the mix has another reader (%s)', (other) => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [2, 1, 16]);
    const t = b.tanh(x);
    const w = b.weight('w', hostTensor([8, 16], new Float32Array(128)));
    const [top, bottom] = [0, 1].map((i) => b.reshape(b.slice(t, 0, i, i + 1), [1, 16]));
    b.output('y0', b.linear(top!, w));
    b.output('y1', b.linear(bottom!, w));
    if (other) b.output('z', b.exp(bottom!));
    const g = b.build();
    const shapes = inferShapes(g, new Map([['x', [2, 1, 16]]]), new Map());
    const slices = (n: Node) => contiguousSliceOffset(n, shapes, new Map());
    const after = groupGemvs(buildUnits(g, shapes), g, shapes, () => true, { sliceOffset: slices });
    expect(after.some((u) => label(u) === 'Tanh')).toBe(other);
    const segments = after.flatMap((u) => (u.kind === 'gemv' ? u.segments : []));
    expect(segments.map((s) => s.prologueRow)).toEqual(other ? [undefined, undefined] : [0, 1]);
  });

  it('makes a decode plan one step shorter a layer with sliced prologues, and leaves prefill alone', () => {
    const { step, seq } = smallRwkv7Graphs(5);
    const rt = standInRuntime();
    const steps = (g: Graph, t: number, slicedPrologues: boolean) => {
      const weights = DeviceWeights.upload(rt, [g], 'float16');
      const scalars = new Map([['logits_from', t - 1]]);
      const shapes = inferShapes(g, callDims(g, 2, t), scalars);
      const plan = Plan.build(rt, g, shapes, weights, scalars, {
        lanes: 4,
        slicedPrologues,
        // the LayerNorm epilogue would take the mixes the sliced prologues are measured on
        fuseNormEpilogues: false,
      });
      const labels = plan.steps.map((s) => s.label);
      plan.dispose();
      return labels;
    };
    const [off, on] = [false, true].map((s) => steps(step, 1, s));
    expect(off!.length - on!.length).toBe(2); // 2 layers
    expect(on!.some((l) => l.startsWith('Sub+Mul+Add ->'))).toBe(false);
    expect(steps(seq, 7, true)).toEqual(steps(seq, 7, false));
  });

  it('takes only prologues reading at most maxPrologueStreams operands along the row', () => {
    const { graph, shapes } = rwkv7Step(1);
    const before = buildUnits(graph, shapes);
    const prologues = (max: number) =>
      groupGemvs(before, graph, shapes, fewRows(shapes), { maxPrologueStreams: max })
        .flatMap((u) => (u.kind === 'gemv' ? u.segments : []))
        .flatMap((s) => (s.prologue ? [s.prologue.nodes.map((n) => n.op).join('+')] : []));
    const all = prologues(Number.POSITIVE_INFINITY);
    // the channel mix's lerp reads x, its shift and the mix weights; the gate y and g
    expect(all.filter((p) => p === 'Sub+Mul+Add')).toHaveLength(3);
    expect(all.filter((p) => p === 'Mul')).toHaveLength(3);
    const one = prologues(1);
    expect(one).not.toContain('Sub+Mul+Add');
    expect(one).not.toContain('Mul');
    expect(one.filter((p) => p === 'Relu+Mul')).toHaveLength(3); // relu(k)^2 reads k alone
    expect(prologues(2).filter((p) => p === 'Mul')).toHaveLength(3);
    expect(prologues(0)).toEqual([]);
  });

  it('leaves plans without GEMV Linears as they were', () => {
    const { graph, shapes } = rwkv7Step(8);
    const before = buildUnits(graph, shapes);
    expect(groupGemvs(before, graph, shapes, fewRows(shapes))).toEqual(before);
  });

  it('groups the rows of a few streams alike', () => {
    const { graph, shapes } = rwkv7Step(3);
    const after = groupGemvs(buildUnits(graph, shapes), graph, shapes, fewRows(shapes));
    expectTopological(graph, after);
    expect(after.filter((u) => u.kind === 'gemv').every((u) => u.kind === 'gemv' && u.rows === 3)).toBe(true);
  });

  it('does not absorb a unit read by anything but GEMVs', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [1, 16]);
    const w = b.weight('w', hostTensor([8, 16], new Float32Array(128)));
    const t = b.tanh(x);
    b.output('y', b.linear(t, w));
    b.output('z', b.exp(t)); // a second reader of the tanh
    const g = b.build();
    const shapes = inferShapes(g, new Map([['x', [1, 16]]]), new Map());
    const after = groupGemvs(buildUnits(g, shapes), g, shapes, () => true);
    expect(after.map(label).filter((l) => l !== 'Identity')).toEqual(['Tanh', 'gemv1', 'Exp']);
    const gemv = after.find((u) => u.kind === 'gemv')!;
    expect(gemv.kind === 'gemv' && gemv.segments[0]!.prologue).toBeUndefined();
  });

  it('reads operands by rows and columns, or refuses', () => {
    expect(operandAccess([2, 1, 8], [2, 1, 8])).toEqual({ rowOffsets: [0, 8], colStride: 1 });
    expect(operandAccess([8], [3, 1, 8])).toEqual({ rowOffsets: [0, 0, 0], colStride: 1 });
    expect(operandAccess([1, 1, 8], [2, 1, 8])).toEqual({ rowOffsets: [0, 0], colStride: 1 });
    expect(operandAccess([2, 1, 1], [2, 1, 8])).toEqual({ rowOffsets: [0, 1], colStride: 0 });
    expect(operandAccess([], [2, 8])).toEqual({ rowOffsets: [0, 0], colStride: 0 });
    expect(operandAccess([3, 8], [2, 8])).toBeUndefined(); // does not broadcast
  });

  it('generates one kernel with a block range per segment', () => {
    const op = { rowOffsets: [0], colStride: 1 as const, vector: true };
    const k = gemvGroupKernel(1, [
      { type: 'f16', n: 10, k: 16, input: { operands: [op] } },
      {
        type: 'bf16',
        n: 4,
        k: 8,
        input: { program: { leaves: 1, nodes: [{ op: 'Tanh', args: [{ leaf: 0 }] }] }, operands: [op] },
        output: {
          program: { leaves: 2, nodes: [{ op: 'Add', args: [{ leaf: 0 }, { leaf: 1 }] }] },
          acc: 1,
          operands: [op, op],
        },
      },
    ]);
    expect(k.blocks).toBe(Math.ceil(10 / GEMV_GROUP_WARPS) + 1); // rows this short are not split
    expect(k.source).toContain('tanhf(');
    expect(k.source).toContain('rwkv_bf16_to_f32');
    expect(k.source).toMatch(/s1o0\[0 \+ n\] \+ acc\[0\]/);
    expect(() => gemvGroupKernel(1, [{ type: 'f16', n: 4, k: 12, input: { operands: [op] } }])).toThrow(
      /K % 8/,
    );
  });

  it('splits rows among warps when there are too few columns to fill the GPU', () => {
    expect(gemvSplit(2048, 8192)).toBe(4); // the channel mix's value at 1.5B
    expect(gemvSplit(2048, 2048)).toBe(4);
    expect(gemvSplit(8192, 2048)).toBe(1); // the key: enough columns
    expect(gemvSplit(65536, 2048)).toBe(1); // the head
    expect(gemvSplit(768, 768)).toBe(2); // 96 chunks: a warp keeps at least 32 (one a lane)
    expect(gemvSplit(2048, 64)).toBe(1);
    const op = { rowOffsets: [0, 0], colStride: 1 as const };
    const k = gemvGroupKernel(2, [{ type: 'f16', n: 2048, k: 2048, input: { operands: [op] } }]);
    expect(k.blocks).toBe(2048); // one column a block, its 4 warps a quarter of the row each
    expect(k.source).toContain('__syncthreads()');
  });

  it('takes tuning options (for the GEMV probe) and rejects impossible ones', () => {
    const op = { rowOffsets: [0], colStride: 1 as const, vector: true };
    const seg = { type: 'f16' as const, n: 2048, k: 8192, input: { operands: [op] } };
    const wide = gemvGroupKernel(1, [seg], { warps: 8, maxSplit: 8, loadsInFlight: 2 });
    expect(gemvSplit(2048, 8192, 8)).toBe(4); // 8192 warps reached at 4
    expect(wide.threads).toBe(256);
    expect(wide.blocks).toBe((2048 * 4) / 8);
    expect(wide.source).toContain('uint4 q[2];');
    expect(gemvGroupKernel(1, [seg], { maxSplit: 1 }).blocks).toBe(2048 / GEMV_GROUP_WARPS);
    expect(() => gemvGroupKernel(1, [seg], { warps: 2, maxSplit: 4 })).toThrow(BadInputError);
    expect(() => gemvGroupKernel(1, [seg], { loadsInFlight: 0 })).toThrow(/loads in flight/);
  });

  it('sends its first weight loads before it waits for the kernel before it', () => {
    const op = { rowOffsets: [0], colStride: 1 as const, vector: true };
    const k = gemvGroupKernel(1, [{ type: 'f16', n: 64, k: 256, input: { operands: [op] } }]);
    const body = k.source.slice(k.source.indexOf('__global__'));
    expect(body.indexOf('__ldg(row')).toBeLessThan(body.indexOf('RWKV_GRID_WAIT();'));
    expect(body.indexOf('RWKV_GRID_WAIT();')).toBeLessThan(body.indexOf('acc[0] +='));
    expect(k.source).toContain('#ifndef RWKV_GRID_WAIT'); // a no-op when launched plainly
  });
});

const probe = probeGpu();

/**
 * On the GPU: the same RWKV-7 step graph with and without GEMV groups. Prologues and
 * epilogues are the elementwise kernels' expressions; only the order of each product's sums
 * differs (split rows, loads in flight), so the bound is float32 rounding: 1e-5 relative to
 * max(1, |value|) on logits and state.
 */
describe.skipIf(!probe.ok)('GEMV groups on the GPU', () => {
  it.each([
    ['float16', 1],
    ['bfloat16', 3],
  ] as const)('%s weights, %i streams: the same outputs as separate kernels', async (weightDType, batch) => {
    // 512 wide with a 1024 channel mix: projections split among 2 warps, the value among 4.
    const { graph } = rwkv7Step(batch, 512, 1024);
    const inputs = randomFeeds(graph, batch, 5, 101);
    const run = (groupGemv: boolean, slicedPrologues = false) =>
      threeCudaCalls(graph, { groupGemv, slicedPrologues }, weightDType, inputs);
    const plain = await run(false);
    // grouped, then with the token-shift mixes computed by the projections (sliced prologues)
    for (const sliced of [false, true]) {
      const grouped = await run(true, sliced);
      const worst = worstRelativeDifference(plain, grouped);
      console.log(
        `GEMV groups${sliced ? ' with sliced prologues' : ''}, ${weightDType}, ${batch} streams: max |grouped - separate| / max(1, |separate|) = ${worst.toExponential(2)}`,
      );
      expect(worst).toBeLessThan(1e-5);
    }
  });
});
