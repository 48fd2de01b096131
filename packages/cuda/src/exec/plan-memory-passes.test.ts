import type { Graph } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { callDims } from '../../test-support/call-dims.js';
import { smallRwkv7Graphs } from '../../test-support/rwkv7-graphs.js';
import { standInRuntime } from '../../test-support/stand-in-runtime.js';
import { Plan, type PlanOptions } from './plan.js';
import { inferShapes } from './shapes.js';
import type { NodeUnit } from './units.js';
import { DeviceWeights } from './weights.js';

/**
 * Whole plans built with the passes that place memory (Concats in place, residual GEMMs),
 * on a stand-in runtime (no GPU): steps saved, the pointers the lowerings got, and the lanes.
 */

const C = 128;
const { step, seq } = smallRwkv7Graphs(13);

function build(g: Graph, batch: number, t: number, options: PlanOptions) {
  const rt = standInRuntime();
  const weights = DeviceWeights.upload(rt, [g], 'float16');
  const scalars = new Map([['logits_from', t - 1]]);
  const shapes = inferShapes(g, callDims(g, batch, t), scalars);
  return Plan.build(rt, g, shapes, weights, scalars, { lanes: 4, ...options });
}

describe('plans with Concats in place and residual GEMMs (stand-in runtime)', () => {
  it('a batch-1 prefill: 8 steps fewer at 2 layers, sums on their residuals, x one row into each shift', () => {
    const off = build(seq, 1, 7, { concatInPlace: false, accumulateResiduals: false });
    const on = build(seq, 1, 7, {});
    // a copy a shift (2 a layer) and an Add a block half (2 a layer)
    expect(off.steps.length - on.steps.length).toBe(8);
    const buf = (name: string) => on.buffers.get(name)!;
    const folded = on.units.filter((u) => u.kind === 'linearAdd');
    expect(folded).toHaveLength(4);
    for (const u of folded) expect(buf(u.outputs[0].name).ptr).toBe(buf(u.inputs[2].name).ptr);
    const concats = on.units.filter((u): u is NodeUnit => u.kind === 'node' && u.node.op === 'Concat');
    expect(concats).toHaveLength(4);
    for (const u of concats) {
      const y = buf(u.outputs[0]!.name);
      // the shifted slice lies one row into the result: the Concat copies only the previous token
      expect(buf(u.inputs[1]!.name).ptr).toBe(y.ptr + BigInt(C * 4));
    }
    expect(on.steps.filter((s) => s.label.startsWith('Concat')).length).toBe(4);
    // the residual stream is accumulated in one buffer: every sum has the first residual's pointer
    expect(new Set(folded.map((u) => buf(u.outputs[0].name).ptr)).size).toBe(1);
  });

  it('a decode step at batch 1 is unchanged by both (no Concat; GEMV epilogues take the adds)', () => {
    const off = build(step, 1, 1, { concatInPlace: false, accumulateResiduals: false });
    const on = build(step, 1, 1, {});
    expect(on.steps.map((s) => s.label)).toEqual(off.steps.map((s) => s.label));
  });
});
