import {
  BadInputError,
  type Graph,
  GraphBuilder,
  hostTensor,
  type Node,
  type Value,
} from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { recordingRuntime } from '../../test-support/recording-runtime.js';
import { smallRwkv7Graphs } from '../../test-support/rwkv7-graphs.js';
import { unitPipeline } from '../../test-support/unit-pipeline.js';
import type { GemmSpec } from '../driver/cublas.js';
import type { Lane } from '../runtime.js';
import type { Buf } from './lower/context.js';
import { linearRunsGemv, lowerLinearAdd } from './lower/gemm.js';
import { accumulateResiduals } from './residual-gemm.js';
import type { ShapeMap } from './shapes.js';
import { fuseSiblings } from './sibling-fusion.js';
import { viewOwners } from './slice-alias.js';
import { buildUnits, type LinearAddUnit, type Unit } from './units.js';

/**
 * Residual adds folded into their GEMMs, checked without a GPU: which adds of RWKV-7's
 * graphs fold (and which must not), the memory the sums get, and the GEMM the lowering
 * hands cuBLAS.
 */

const { step, seq } = smallRwkv7Graphs(7);

/** The plan's passes up to this one, with float16 weights (as exec/plan.ts runs them). */
function fold(g: Graph, batch: number, t: number) {
  const { shapes, rows, half } = unitPipeline(g, batch, t);
  const units = fuseSiblings(rows, g, shapes);
  const folded = accumulateResiduals(
    units,
    g,
    shapes,
    (n) => {
      const x = shapes.get(n.inputs[0]!.name)!;
      const k = x[x.length - 1]!;
      return !linearRunsGemv(x.reduce((a, b) => a * b, 1) / k, k, 'f16') && !half.has(n.outputs[0]!.name);
    },
    (v) => !half.has(v.name) && v.dtype === 'float32',
  );
  return { shapes, units, folded };
}

const adds = (us: readonly Unit[]) => us.filter((u): u is LinearAddUnit => u.kind === 'linearAdd');

describe('residual adds folded into GEMMs', () => {
  for (const [what, g, batch, t] of [
    ['a batch-1 prefill', seq, 1, 7],
    ['a decode step of 64 streams', step, 64, 1],
  ] as const)
    it(`folds both residual adds of every layer of ${what}, the residual stream in one buffer`, () => {
      const { units, folded, shapes } = fold(g, batch, t);
      const la = adds(folded);
      expect(la.map((u) => u.linear.inputs[1]!.name)).toEqual([
        'blocks.0.att.output.weight',
        'blocks.0.ffn.value.weight',
        'blocks.1.att.output.weight',
        'blocks.1.ffn.value.weight',
      ]);
      // each Linear and Add became one unit
      expect(units.length - folded.length).toBe(la.length);
      for (const u of la) {
        expect(
          folded.some((v) => v !== u && v.outputs.some((o) => o.name === u.linear.outputs[0]!.name)),
        ).toBe(false);
        expect(shapes.get(u.inputs[2].name)).toEqual(shapes.get(u.outputs[0].name));
      }
      // each sum is the next one's residual: the stream is accumulated in place, in the
      // memory of the value that started it (layer 0's input LayerNorm)
      for (let i = 1; i < la.length; i++) expect(la[i]!.inputs[2].name).toBe(la[i - 1]!.outputs[0].name);
      const { root } = viewOwners(folded, shapes, new Map([['logits_from', t - 1]]));
      const first = la[0]!.inputs[2].name;
      for (const u of la) expect(root.get(u.outputs[0].name)).toBe(first);
      // nothing reads a residual after the GEMM that overwrites it
      folded.forEach((u, i) => {
        if (u.kind !== 'linearAdd') return;
        for (const later of folded.slice(i + 1))
          expect(later.inputs.some((v) => v.name === u.inputs[2].name)).toBe(false);
      });
    });

  it('folds nothing in a batch-1 decode step (its Linears are GEMVs, their epilogues take the adds)', () => {
    expect(adds(fold(step, 1, 1).folded)).toHaveLength(0);
  });

  /** x + Linear(h) with x made by a unit, then `after`: the graph's other use of x or the product. */
  function tiny(after: 'none' | 'readX' | 'readProduct' | 'xIsInput') {
    const b = new GraphBuilder('g');
    const a = b.input('a', 'float32', [64, 8]);
    const x = after === 'xIsInput' ? a : b.sigmoid(a);
    const h = b.tanh(a);
    const p = b.linear(h, b.weight('w', hostTensor([8, 8], new Float32Array(64))));
    let y = b.add(x, p);
    if (after === 'readX') y = b.mul(y, x);
    if (after === 'readProduct') y = b.mul(y, p);
    b.output('y', b.relu(y));
    const g = b.build();
    const shapes: ShapeMap = new Map(
      [...g.inputs, ...g.nodes.flatMap((n) => n.outputs)].map((v) => [v.name, [64, 8]] as [string, number[]]),
    );
    shapes.set('w', [8, 8]);
    return accumulateResiduals(
      buildUnits(g, shapes, false),
      g,
      shapes,
      () => true,
      () => true,
    );
  }

  it('folds only where the residual and the product are read by nothing else and the residual is an activation', () => {
    expect(adds(tiny('none'))).toHaveLength(1);
    expect(adds(tiny('readX'))).toHaveLength(0);
    expect(adds(tiny('readProduct'))).toHaveLength(0);
    expect(adds(tiny('xIsInput'))).toHaveLength(0);
  });
});

describe('the accumulating GEMM', () => {
  function lowered(wType: Buf['type'], sumAt: bigint) {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [64, 32]);
    const r = b.input('r', 'float32', [64, 16]);
    const p = b.linear(x, b.weight('w', hostTensor([16, 32], new Float32Array(16 * 32))));
    const sum = b.add(r, p);
    b.output('y', sum);
    const linear = b.build().nodes.find((n): n is Node => n.op === 'Linear')!;
    const bufs = new Map<string, Buf>([
      [x.name, { ptr: 0x1000n, dims: [64, 32], type: 'f32' }],
      ['w', { ptr: 0x2000n, dims: [16, 32], type: wType }],
      [r.name, { ptr: 0x3000n, dims: [64, 16], type: 'f32' }],
      [sum.name, { ptr: sumAt, dims: [64, 16], type: 'f32' }],
    ]);
    const rr = recordingRuntime(bufs, new Map([...bufs].map(([k, v]) => [k, v.dims])));
    const steps = lowerLinearAdd(rr.ctx, linear, r as Value, sum as Value);
    const gemms: GemmSpec[] = [];
    const copies: bigint[][] = [];
    (
      rr.ctx.rt.ctx as unknown as { copyDeviceAsync: (d: bigint, s: bigint, n: number) => void }
    ).copyDeviceAsync = (d, s, n) => copies.push([d, s, BigInt(n)]);
    const lane = { stream: {}, blas: { gemm: (g: GemmSpec) => gemms.push(g) } } as unknown as Lane;
    for (const s of steps) s.enqueue(lane);
    return { steps, gemms, copies, launches: rr.launches };
  }

  it('adds into the residual in place with beta = 1', () => {
    const { steps, gemms, copies } = lowered('f32', 0x3000n);
    expect(steps).toHaveLength(1);
    expect(copies).toHaveLength(0);
    expect(gemms[0]).toMatchObject({ accumulate: true, c: 0x3000n, cType: 'f32', m: 16, n: 64, k: 32 });
  });

  it('copies the residual first where the sum lies elsewhere, and casts for half weights', () => {
    const { steps, gemms, copies, launches } = lowered('f16', 0x4000n);
    expect(steps).toHaveLength(3); // copy, cast, GEMM
    expect(copies).toEqual([[0x4000n, 0x3000n, BigInt(64 * 16 * 4)]]);
    expect(launches).toHaveLength(1); // the cast kernel
    expect(gemms[0]).toMatchObject({ accumulate: true, c: 0x4000n, aType: 'f16', bType: 'f16' });
  });

  it('rejects a residual that is not float32', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [64, 32]);
    const p = b.linear(x, b.weight('w', hostTensor([16, 32], new Float32Array(16 * 32))));
    b.output('y', p);
    const linear = b.build().nodes.find((n) => n.op === 'Linear')!;
    const bufs = new Map<string, Buf>([
      [x.name, { ptr: 0x1000n, dims: [64, 32], type: 'f32' }],
      ['w', { ptr: 0x2000n, dims: [16, 32], type: 'f16' }],
      [p.name, { ptr: 0x3000n, dims: [64, 16], type: 'f16' }],
    ]);
    const rr = recordingRuntime(bufs, new Map([...bufs].map(([k, v]) => [k, v.dims])));
    expect(() => lowerLinearAdd(rr.ctx, linear, p, p)).toThrow(BadInputError);
  });
});
