import { buildRwkvGraph, GraphBuilder, hostTensor, LOGITS_FROM, randomRwkvWeights } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { halfActivations } from './half-activations.js';
import { linearHalfInput } from './lower/gemm.js';
import { inferShapes } from './shapes.js';
import { contiguousSliceOffset } from './slice-alias.js';
import { buildUnits } from './units.js';

/** What the plan asks for half inputs, with every Linear weight stored as float16. */
function selection(
  graph: ReturnType<GraphBuilder['build']>,
  dims: Map<string, number[]>,
  scalars = new Map<string, number>(),
) {
  const shapes = inferShapes(graph, dims, scalars);
  const units = buildUnits(graph, shapes);
  const isWeight = (name: string) => graph.initializers.has(name);
  return halfActivations(
    graph,
    units,
    shapes,
    isWeight,
    (n, sh) => linearHalfInput(sh.get(n.inputs[0]!.name)!, 'f16'),
    (n) => contiguousSliceOffset(n, shapes, scalars) !== undefined,
  );
}

describe('half activations (a group stores what only cuBLAS half GEMMs read)', () => {
  const w = (b: GraphBuilder, name: string) => b.weight(name, hostTensor([8, 8], new Float32Array(64)));

  it('rounds a lerp read only by Linears, also through a reshape; not one read elsewhere', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['batch', 'time', 8]);
    const lerp = b.add(x, b.mul(x, x)); // read by two Linears, one through a reshape
    const flat = b.reshape(lerp, ['batch', 'time', 8]);
    const y1 = b.linear(lerp, w(b, 'w1'));
    const y2 = b.linear(flat, w(b, 'w2'));
    const shared = b.sigmoid(y1); // read by a Linear and by the output sum
    const y3 = b.linear(shared, w(b, 'w3'));
    b.output('y', b.add(b.add(y3, shared), y2));
    const half = selection(b.build(), new Map([['x', [2, 16, 8]]]));
    expect(Object.fromEntries(half)).toEqual({ [lerp.name]: 'f16', [flat.name]: 'f16' });
    // two rows: our GEMV reads float32, so nothing is rounded
    expect(selection(b.build(), new Map([['x', [1, 2, 8]]])).size).toBe(0);
  });

  it('marks the lerps and LoRA inputs of an RWKV-7 prefill, nothing of its decode step (our GEMV reads float32)', () => {
    const { config, tensors } = randomRwkvWeights(
      { version: 7, nLayer: 2, nEmbd: 128, nVocab: 64, headSize: 64 },
      1,
    );
    const inputs = (g: ReturnType<GraphBuilder['build']>, T: number) =>
      new Map(
        g.inputs.map((v) => [
          v.name,
          v.name === 'tokens'
            ? [1, T]
            : v.name === LOGITS_FROM
              ? [1]
              : [1, ...(v.shape.slice(1) as number[])],
        ]),
      );
    const seq = buildRwkvGraph(config, tensors, { mode: 'sequence' });
    const prefill = selection(seq, inputs(seq, 16), new Map([[LOGITS_FROM, 15]]));
    // per layer 11: the six token-shift mixes, the tanh and sigmoid inside the w and g
    // LoRAs, the gated wkv output, the ffn's mix and its relu^2; and the products of the
    // LoRAs whose first matrix feeds the second directly: a in both layers, v in the
    // second (the first layer's v is v_first, no LoRA)
    expect(prefill.size).toBe(2 * 11 + 3);
    const products = seq.nodes.filter((n) => n.op === 'Linear' && prefill.has(n.outputs[0]!.name));
    expect(products).toHaveLength(3);
    for (const p of products) {
      const readers = seq.nodes.filter((n) => n.inputs.some((v) => v.name === p.outputs[0]!.name));
      expect(readers.map((n) => n.op)).toEqual(['Linear']);
    }
    const step = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
    expect(selection(step, inputs(step, 1), new Map([[LOGITS_FROM, 0]])).size).toBe(0);
  });

  it('marks the token-shift mixes of an RWKV-7 decode step of 64 streams through their slices (views)', () => {
    const { config, tensors } = randomRwkvWeights(
      { version: 7, nLayer: 2, nEmbd: 128, nVocab: 64, headSize: 64 },
      1,
    );
    const step = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
    const dims = new Map(step.inputs.map((v) => [v.name, [64, ...(v.shape.slice(1) as number[])]]));
    const half = selection(step, dims);
    const slices = step.nodes.filter((n) => n.op === 'Slice');
    expect(slices).toHaveLength(2 * 6);
    // the stacked mix result, each slice and the reshape after it: stored half, no casts
    for (const s of slices) {
      expect(half.get(s.inputs[0]!.name)).toBe('f16');
      expect(half.get(s.outputs[0]!.name)).toBe('f16');
    }
    // without views the slices stop the walk: the mixes stay float32 (cast per Linear)
    const shapes = inferShapes(step, dims, new Map());
    const plain = halfActivations(
      step,
      buildUnits(step, shapes),
      shapes,
      (n) => step.initializers.has(n),
      (n, sh) => linearHalfInput(sh.get(n.inputs[0]!.name)!, 'f16'),
    );
    for (const s of slices) expect(plain.has(s.outputs[0]!.name)).toBe(false);
  });
});
