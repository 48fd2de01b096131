import { GraphBuilder, hostTensor, type Value } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { recordingRuntime } from '../../../test-support/recording-runtime.js';
import type { FusedProgram, FusedRef } from '../../kernels/elementwise.js';
import type { ShapeMap } from '../shapes.js';
import { inferShapes } from '../shapes.js';
import { fuseSiblings } from '../sibling-fusion.js';
import { buildUnits, type FusedManyUnit, type FusedUnit } from '../units.js';
import type { Buf } from './context.js';
import { lowerFused } from './elementwise.js';

/**
 * The contract between a fused unit's lowering and its generated kernel, checked without a
 * GPU: the launch's pointers and walk (as lowerFused encodes them) are decoded and the
 * kernel's loop is run on the host exactly as the source does it (outputs first, then the
 * leaves, each with its own strides), then compared with the graph's arithmetic.
 */

const C = 8;
const [B, T] = [2, 5];

function mixes(n: number) {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', ['batch', 'time', C]);
  const shifted = b.input('shifted', 'float32', ['batch', 'time', C]);
  const xx = b.sub(shifted, x);
  const w = b.weight('w', hostTensor([C, C], new Float32Array(C * C)));
  for (let i = 0; i < n; i++) {
    const mix = b.weight(`mix${i}`, hostTensor([C], new Float32Array(C)));
    b.output(`y${i}`, b.linear(b.add(x, b.mul(xx, mix)), w));
  }
  const g = b.build();
  const shapes = inferShapes(
    g,
    new Map([
      ['x', [B, T, C]],
      ['shifted', [B, T, C]],
    ]),
    new Map(),
  );
  return { g, shapes };
}

const OPS: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
};

function run(p: FusedProgram, leaves: readonly number[]): number[] {
  const v: number[] = [];
  const ref = (r: FusedRef) => ('leaf' in r ? leaves[r.leaf]! : v[r.node]!);
  for (const n of p.nodes) v.push(Math.fround(OPS[n.op]!(ref(n.args[0]!), n.args[1] ? ref(n.args[1]) : 0)));
  return v;
}

/**
 * Lowers a fused unit against host buffers (leaves filled with a seeded pattern, results
 * NaN; result `halfResult` stored as half), decodes its launch and runs the kernel's loop on
 * the host: offsets from the flat index, leaves loaded, results stored. Returns the values by
 * name, the decoded launch and the generated source.
 */
function runOnHost(
  unit: FusedUnit | FusedManyUnit,
  shapes: ShapeMap,
  halfResult = -1,
): { value: (name: string) => Float32Array; ptrs: bigint[]; params: Buffer[]; source: string; n: number } {
  // host memory standing in for device buffers: a pointer per value
  const host = new Map<bigint, Float32Array>();
  const bufs = new Map<string, Buf>();
  let next = 0x1000n;
  const place = (v: Value, type: Buf['type'], fill?: (i: number) => number) => {
    const dims = shapes.get(v.name) ?? [C];
    const n = dims.reduce((a, d) => a * d, 1);
    const ptr = next;
    next += 0x10000n;
    host.set(
      ptr,
      Float32Array.from({ length: n }, (_, i) => (fill ? fill(i) : Number.NaN)),
    );
    bufs.set(v.name, { ptr, dims, type });
  };
  unit.inputs.forEach((v, k) => {
    place(v, 'f32', (i) => Math.fround(Math.sin(i * 0.7 + k)));
  });
  unit.outputs.forEach((v, j) => {
    place(v, j === halfResult ? 'f16' : 'f32');
  });
  const recorder = recordingRuntime(bufs, shapes);
  const K = unit.outputs.length;
  const L = unit.inputs.length;
  const { params, ptrs } = recorder.launchOne(lowerFused(recorder.ctx, unit), K + L);
  expect(params).toHaveLength(K + L + 1);
  expect(ptrs).toEqual([...unit.outputs, ...unit.inputs].map((v) => bufs.get(v.name)!.ptr));
  const source = recorder.source();
  // the walk struct (32-bit indexing at this size): n, dims[R], magic[R], shift[R], strides[K+L][R], offsets
  const walk = params[K + L]!;
  const R = Number(/_r(\d)n/.exec(source)?.[1]);
  const u32 = (i: number) => walk.readUInt32LE(4 * i);
  const i32 = (i: number) => walk.readInt32LE(4 * i);
  const n = u32(0);
  const dims = Array.from({ length: R }, (_, d) => u32(1 + d));
  const strides = Array.from({ length: K + L }, (_, k) =>
    Array.from({ length: R }, (_, d) => i32(1 + 3 * R + k * R + d)),
  );
  const results = unit.program.results ?? [unit.program.nodes.length - 1];
  for (let i = 0; i < n; i++) {
    const off = strides.map(() => 0);
    let rem = i;
    for (let d = R - 1; d >= 1; d--) {
      const c = rem % dims[d]!;
      rem = Math.floor(rem / dims[d]!);
      strides.forEach((s, k) => {
        off[k]! += c * s[d]!;
      });
    }
    strides.forEach((s, k) => {
      off[k]! += rem * s[0]!;
    });
    const leaves = unit.inputs.map((_, k) => host.get(ptrs[K + k]!)![off[K + k]!]!);
    const vals = run(unit.program, leaves);
    results.forEach((r, j) => {
      host.get(ptrs[j]!)![off[j]!] = vals[r]!;
    });
  }
  return { value: (name) => host.get(bufs.get(name)!.ptr)!, ptrs, params, source, n };
}

describe('a merged elementwise kernel as lowered', () => {
  it('gets its outputs, then its leaves, each with its own walk, and computes every result', () => {
    const { g, shapes } = mixes(3);
    const unit = fuseSiblings(buildUnits(g, shapes), g, shapes).find(
      (u): u is FusedManyUnit => u.kind === 'fusedMany',
    )!;
    const { value, source, n } = runOnHost(unit, shapes, 1); // one result stored as half
    expect(source).toMatch(/out1\[off1\] = rwkv_f32_to_f16\(t\d+\);/);
    expect(n).toBe(B * T * C);
    // the graph's arithmetic: y_i = x + (shifted - x) * mix_i, mix broadcast over [B, T]
    const [x, shifted] = [value('x'), value('shifted')];
    unit.outputs.forEach((o, j) => {
      // nodes: the absorbed Sub, then each mix's Mul and Add in result order
      const mul = unit.nodes[1 + 2 * j]!;
      expect(mul.op).toBe('Mul');
      const mix = value(mul.inputs.find((v) => v.name.startsWith('mix'))!.name);
      const got = value(o.name);
      for (let e = 0; e < B * T * C; e++) {
        const want = Math.fround(x[e]! + Math.fround(Math.fround(shifted[e]! - x[e]!) * mix[e % C]!));
        expect(got[e]).toBe(want);
      }
    });
  });
});

describe('a fused kernel with a smaller member broadcast to its result', () => {
  it('recomputes the member per result element: the stacked token-shift mixes of a decode step with x_prev - x inside', () => {
    // RWKV-7's decode step: xx = x_prev - x is [B, 1, C], the six mixes x + xx * mix are [6, B, 1, C]
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['batch', 1, C]);
    const prev = b.input('prev', 'float32', ['batch', 1, C]);
    const mix = b.weight('mix', hostTensor([6, 1, 1, C], new Float32Array(6 * C)));
    b.output('y', b.add(x, b.mul(b.sub(prev, x), mix)));
    const g = b.build();
    const shapes = inferShapes(
      g,
      new Map([
        ['x', [B, 1, C]],
        ['prev', [B, 1, C]],
      ]),
      new Map(),
    );
    const fused = buildUnits(g, shapes).filter((u): u is FusedUnit => u.kind === 'fused');
    expect(fused).toHaveLength(1); // the Sub is no launch of its own
    const unit = fused[0]!;
    expect(unit.nodes.map((nd) => nd.op)).toEqual(['Sub', 'Mul', 'Add']);
    const { value, n } = runOnHost(unit, shapes);
    expect(n).toBe(6 * B * C);
    const [xs, ps, ms, ys] = [value('x'), value('prev'), value('mix'), value(unit.outputs[0].name)];
    for (let m = 0; m < 6; m++)
      for (let e = 0; e < B * C; e++) {
        const want = Math.fround(xs[e]! + Math.fround(Math.fround(ps[e]! - xs[e]!) * ms[m * C + (e % C)]!));
        expect(ys[m * B * C + e]).toBe(want);
      }
  });
});
