import { type Graph, SeededRandom } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { callDims } from '../../test-support/call-dims.js';
import { evalElementwiseNode, HOST_OPS } from '../../test-support/host-elementwise.js';
import { hasNvcc, nvccPtx } from '../../test-support/nvcc.js';
import { smallRwkv7Graphs } from '../../test-support/rwkv7-graphs.js';
import { standInRuntime } from '../../test-support/stand-in-runtime.js';
import { randomFeeds, threeCudaCalls } from '../../test-support/step-feeds.js';
import { unitPipeline } from '../../test-support/unit-pipeline.js';
import { probeGpu } from '../driver/probe.js';
import { withGridDependency } from '../kernels/grid-dependency.js';
import { type RowProgram, type RowRef, rowNodeKinds } from '../kernels/row-fused.js';
import { Plan } from './plan.js';
import { fuseRows, ROW_LIMITS } from './row-fusion.js';
import { inferShapes, type ShapeMap } from './shapes.js';
import { isAlias, type Unit, type Wkv7RowsUnit } from './units.js';
import { DeviceWeights } from './weights.js';
import { foldRowsIntoWkv7, headRowAccess, WKV7_ROWS_MAX_BATCH } from './wkv7-row-prologue.js';

const { step, seq } = smallRwkv7Graphs(23);
const folded = (us: readonly Unit[]) => us.filter((u): u is Wkv7RowsUnit => u.kind === 'wkv7Rows');
const kernels = (us: readonly Unit[]) => us.filter((u) => !(u.kind === 'node' && isAlias(u.node.op))).length;

/** A decode step's units up to row fusion (norms folded; with or without row siblings). */
function decodeUnits(batch: number, siblings: boolean) {
  const p = unitPipeline(step, batch, 1);
  return { ...p, rows: fuseRows(p.units, step, p.shapes, ROW_LIMITS, { foldNorms: true, siblings }) };
}

/** The row unit's nodes evaluated as the graph's ops (float64; sums over the last axis). */
function evalRows(unit: Wkv7RowsUnit, shapes: ShapeMap, vals: Map<string, Float64Array>) {
  const nodes = step.nodes.filter((n) => unit.rows.nodes.includes(n) || unit.rows.aliases.includes(n));
  for (const n of nodes) {
    if (isAlias(n.op)) vals.set(n.outputs[0]!.name, vals.get(n.inputs[0]!.name)!);
    else if (n.op === 'ReduceSum') {
      const x = vals.get(n.inputs[0]!.name)!;
      const d = shapes.get(n.inputs[0]!.name)!;
      const len = d[d.length - 1]!;
      const y = new Float64Array(x.length / len);
      for (let r = 0; r < y.length; r++) for (let j = 0; j < len; j++) y[r]! += x[r * len + j];
      vals.set(n.outputs[0]!.name, y);
    } else
      vals.set(
        n.outputs[0]!.name,
        evalElementwiseNode(n, vals, shapes, (len) => new Float64Array(len)),
      );
  }
}

/** A row program at (b, h): every node's values over the head's columns, its leaves read as the kernel reads them. */
function evalProgramAt(p: RowProgram, leaf: (l: number, j: number) => number, N: number): number[][] {
  const kinds = rowNodeKinds(p);
  const t: number[][] = [];
  const ref = (r: RowRef, j: number): number =>
    'literal' in r
      ? r.literal
      : 'leaf' in r
        ? leaf(r.leaf, p.leaves[r.leaf] === 'row' ? 0 : j)
        : t[r.node]![kinds[r.node] === 'row' ? 0 : j]!;
  for (const n of p.nodes) {
    if (n.op === 'ReduceSum') {
      let s = 0;
      for (let j = 0; j < N; j++) s += ref(n.args[0]!, j);
      t.push([s]);
      continue;
    }
    const len = kinds[t.length] === 'row' ? 1 : N;
    t.push(
      Array.from({ length: len }, (_, j) =>
        HOST_OPS[n.op]!(ref(n.args[0]!, j), n.args[1] ? ref(n.args[1], j) : 0),
      ),
    );
  }
  return t;
}

/**
 * The kernel's specification (each leaf at b bStride + h hStride + j colStride; the fed nodes
 * for k, a, b; the stored nodes) against the graph's own ops, on random values: equal.
 */
function expectSpecMatchesOps(unit: Wkv7RowsUnit, shapes: ShapeMap, seed: number) {
  const rng = new SeededRandom(seed);
  const vals = new Map<string, Float64Array>();
  for (const v of unit.rows.inputs) {
    const n = shapes.get(v.name)!.reduce((a, d) => a * d, 1);
    vals.set(
      v.name,
      Float64Array.from({ length: n }, () => rng.normal()),
    );
  }
  evalRows(unit, shapes, vals);
  const [B, , H, N] = shapes.get(unit.wkv.inputs[0]!.name)! as [number, number, number, number];
  const p = unit.rows.program;
  const access = unit.rows.leafViews.map((l, i) =>
    headRowAccess(
      shapes.get(unit.rows.inputs[l.input]!.name)!,
      shapes.get(l.over.name)!,
      p.leaves[i]!,
      B,
      H,
      N,
    ),
  );
  expect(access.every((a) => a !== undefined)).toBe(true);
  // what each fed input and stored result should be, from the graph
  const source = (name: string): string => {
    const n = step.nodes.find((x) => x.outputs[0]!.name === name);
    return n && isAlias(n.op) ? source(n.inputs[0]!.name) : name;
  };
  const checks: { node: number; want: Float64Array }[] = [];
  (
    [
      ['k', 2],
      ['a', 4],
      ['b', 5],
    ] as const
  ).forEach(([w, i]) => {
    const node = unit.feeds[w];
    if (node !== undefined) checks.push({ node, want: vals.get(source(unit.wkv.inputs[i]!.name))! });
  });
  for (const o of unit.outputs.slice(unit.wkv.outputs.length)) {
    const k = unit.rows.outputs.findIndex((x) => x.name === o.name);
    checks.push({ node: p.results[k]!, want: vals.get(o.name)! });
  }
  expect(checks.length).toBeGreaterThan(0);
  const kinds = rowNodeKinds(p);
  let worst = 0;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const t = evalProgramAt(
        p,
        (l, j) => {
          const a = access[l]!;
          return vals.get(unit.rows.inputs[unit.rows.leafViews[l]!.input]!.name)![
            b * a.bStride + h * a.hStride + j * a.colStride
          ]!;
        },
        N,
      );
      for (const { node, want } of checks) {
        const len = kinds[node] === 'row' ? 1 : N;
        for (let j = 0; j < len; j++)
          worst = Math.max(worst, Math.abs(t[node]![j]! - want[(b * H + h) * len + j]!));
      }
    }
  expect(worst).toBeLessThan(1e-12);
}

describe('row units folded into the one-step Wkv7 (exec/wkv7-row-prologue.ts)', () => {
  it.each([
    1, 3,
  ])('take the L2 norm of k with the k modification, storing the modified k (%i streams)', (batch) => {
    const { rows, shapes } = decodeUnits(batch, true);
    const after = foldRowsIntoWkv7(rows, step, shapes, () => true);
    const made = folded(after);
    expect(made).toHaveLength(2);
    expect(kernels(rows) - kernels(after)).toBe(2); // the row kernel of each layer
    for (const [n, u] of made.entries()) {
      expect(Object.keys(u.feeds).sort()).toEqual(['a', 'b', 'k']);
      // the modified k is read by the bonus as well: stored; -kk and kk * a are not
      expect(u.outputs.length).toBe(u.wkv.outputs.length + 1);
      expectSpecMatchesOps(u, shapes, 70 + n + 10 * batch);
    }
    // no unit reads a value nobody makes any more
    const made2 = new Set<string>([...step.inputs.map((v) => v.name), ...step.initializers.keys()]);
    for (const u of after) {
      for (const v of u.inputs) expect(made2.has(v.name), `${v.name}`).toBe(true);
      for (const v of u.outputs) made2.add(v.name);
    }
  });

  it('take the norm alone where the k modification is a unit of its own (a and b fed, k read)', () => {
    const { rows, shapes } = decodeUnits(1, false);
    const made = folded(foldRowsIntoWkv7(rows, step, shapes, () => true));
    expect(made).toHaveLength(2);
    for (const u of made) {
      expect(Object.keys(u.feeds).sort()).toEqual(['a', 'b']);
      expect(u.outputs).toEqual(u.wkv.outputs);
      expectSpecMatchesOps(u, shapes, 5);
    }
  });

  it('leave Wkv7s alone that do not run the one-step kernel, and prefills', () => {
    const { rows, shapes } = decodeUnits(1, true);
    expect(folded(foldRowsIntoWkv7(rows, step, shapes, () => false))).toHaveLength(0);
    const p = unitPipeline(seq, 2, 5);
    const seqRows = fuseRows(p.units, seq, p.shapes, ROW_LIMITS, { foldNorms: true, siblings: true });
    expect(folded(foldRowsIntoWkv7(seqRows, seq, p.shapes, () => true))).toHaveLength(0);
  });

  it('address values by stream, head and column, or refuse', () => {
    // k_k [C] over [B, 1, C] with 4 heads of 8: the same for every stream, a head every 8
    expect(headRowAccess([32], [3, 1, 32], 'elem', 3, 4, 8)).toEqual({
      bStride: 0,
      hStride: 8,
      colStride: 1,
    });
    // a per-head value [B, 1, H, 1]
    expect(headRowAccess([3, 1, 4, 1], [3, 1, 4, 1], 'row', 3, 4, 8)).toEqual({
      bStride: 4,
      hStride: 1,
      colStride: 0,
    });
    // a constant
    expect(headRowAccess([1], [3, 1, 4, 1], 'row', 3, 4, 8)).toEqual({
      bStride: 0,
      hStride: 0,
      colStride: 0,
    });
    // counts that are not the heads' rows
    expect(headRowAccess([3, 1, 33], [3, 1, 33], 'elem', 3, 4, 8)).toBeUndefined();
  });

  it.skipIf(!hasNvcc)(
    'generate kernels that compile without warnings (nvcc -ptx for sm_90), plainly and for dependent launch',
    () => {
      for (const batch of [1, 3]) {
        const found: { source: string; name: string; gridDependency: boolean }[] = [];
        const rt = standInRuntime(found);
        const weights = DeviceWeights.upload(rt, [step], 'float16');
        const scalars = new Map([['logits_from', 0]]);
        Plan.build(rt, step, inferShapes(step, callDims(step, batch, 1), scalars), weights, scalars, {
          wkv7RowPrologue: true,
          wkv7OneStep: true,
        }).dispose();
        const sources = found.filter((k) => k.name.startsWith('rwkv_wkv7_decode_rows_')).map((k) => k.source);
        expect(sources.length).toBeGreaterThan(0);
        for (const src of sources) {
          nvccPtx(src);
          nvccPtx(withGridDependency(src));
        }
      }
    },
    120_000,
  );

  it('make a decode plan one step shorter a layer, a prefill plan not at all', () => {
    const rt = standInRuntime();
    const steps = (g: Graph, t: number, wkv7RowPrologue: boolean) => {
      const weights = DeviceWeights.upload(rt, [g], 'float16');
      const scalars = new Map([['logits_from', t - 1]]);
      const plan = Plan.build(rt, g, inferShapes(g, callDims(g, 2, t), scalars), weights, scalars, {
        lanes: 4,
        wkv7RowPrologue,
        wkv7OneStep: true,
      });
      const labels = plan.steps.map((s) => s.label);
      plan.dispose();
      return labels;
    };
    const [off, on] = [false, true].map((f) => steps(step, 1, f));
    expect(off!.length - on!.length).toBe(2);
    expect(on!.filter((l) => l.startsWith('Wkv7 (one step) + rows'))).toHaveLength(2);
    expect(steps(seq, 7, true)).toEqual(steps(seq, 7, false));
  });

  it(`fold by default up to ${WKV7_ROWS_MAX_BATCH} streams, at any batch when asked, never when told not to`, () => {
    const rt = standInRuntime();
    const fused = (batch: number, wkv7RowPrologue?: boolean) => {
      const weights = DeviceWeights.upload(rt, [step], 'float16');
      const scalars = new Map([['logits_from', 0]]);
      const plan = Plan.build(
        rt,
        step,
        inferShapes(step, callDims(step, batch, 1), scalars),
        weights,
        scalars,
        {
          lanes: 4,
          wkv7OneStep: true,
          ...(wkv7RowPrologue === undefined ? {} : { wkv7RowPrologue }),
        },
      );
      const n = plan.steps.filter((s) => s.label.startsWith('Wkv7 (one step) + rows')).length;
      plan.dispose();
      return n;
    };
    const before = process.env['RWKV_STREAMS_CUDA_WKV7_ROWS'];
    delete process.env['RWKV_STREAMS_CUDA_WKV7_ROWS'];
    try {
      expect([1, WKV7_ROWS_MAX_BATCH, WKV7_ROWS_MAX_BATCH + 1].map((b) => fused(b))).toEqual([2, 2, 0]);
      expect(fused(WKV7_ROWS_MAX_BATCH + 1, true)).toBe(2);
      expect(fused(1, false)).toBe(0);
      process.env['RWKV_STREAMS_CUDA_WKV7_ROWS'] = '1';
      expect(fused(WKV7_ROWS_MAX_BATCH + 1)).toBe(2);
      process.env['RWKV_STREAMS_CUDA_WKV7_ROWS'] = '0';
      expect(fused(1)).toBe(0);
      process.env['RWKV_STREAMS_CUDA_WKV7_ROWS'] = 'yes';
      expect(() => fused(1)).toThrow(/RWKV_STREAMS_CUDA_WKV7_ROWS must be 0 or 1, not 'yes'/);
    } finally {
      if (before === undefined) delete process.env['RWKV_STREAMS_CUDA_WKV7_ROWS'];
      else process.env['RWKV_STREAMS_CUDA_WKV7_ROWS'] = before;
    }
  });
});

const probe = probeGpu();

describe.skipIf(!probe.ok)(
  `row units in the one-step Wkv7 on the GPU (${probe.reason.slice(0, 100)})`,
  () => {
    it.each([
      ['float32', 1],
      ['float16', 3],
      ['bfloat16', 64],
    ] as const)('%s weights, %i streams: a decode step within 1e-5 of the separate kernels', async (weightDType, batch) => {
      const feeds = randomFeeds(step, batch, 11, 50);
      const run = (wkv7RowPrologue: boolean) =>
        threeCudaCalls(step, { wkv7RowPrologue, wkv7OneStep: true }, weightDType, feeds, (exe) => {
          expect(exe.planFor(feeds).units.some((u) => u.kind === 'wkv7Rows')).toBe(wkv7RowPrologue);
        });
      const [off, on] = [await run(false), await run(true)];
      let worst = 0;
      for (let i = 0; i < 3; i++)
        for (const name of Object.keys(off[i]!)) {
          const a = off[i]![name]!.data as Float32Array;
          const b = on[i]![name]!.data as Float32Array;
          for (let j = 0; j < a.length; j++)
            worst = Math.max(worst, Math.abs(a[j]! - b[j]!) / Math.max(1, Math.abs(a[j]!)));
        }
      console.log(
        `Wkv7 row prologue, ${weightDType}, ${batch} streams: max relative difference ${worst.toExponential(2)}`,
      );
      expect(worst).toBeLessThan(1e-5);
    });
  },
);
