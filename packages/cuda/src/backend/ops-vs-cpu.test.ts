import {
  type CompiledGraph,
  type Graph,
  GraphBuilder,
  hostTensor,
  onnxBackend,
  SeededRandom,
  type TensorValue,
  type Value,
} from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { probeGpu } from '../driver/probe.js';
import { cudaBackend } from './cuda-backend.js';

/**
 * Every op of the IR on the CUDA backend against the CPU backend (onnxruntime), on
 * random inputs. Bound: max |cuda - cpu| / (1 + |cpu|) <= 2e-6 for elementwise and data
 * movement (one rounding apart at most), 1e-5 where a sum order differs (GEMMs,
 * reductions, norms, recurrences), 4e-3 where cuBLAS rounds activations to float16.
 * Measured on an H100 (packages/cuda/gpu-runs/): at most 1.1e-6 except that last, 1.6e-3.
 */

const probe = probeGpu();
const rng = new SeededRandom(7);

function rand(n: number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
}

interface Case {
  readonly name: string;
  /** Weight storage of both backends (float16: the same rounded weights on both). */
  readonly weightDType?: 'float16';
  /** One bound for every output, or one per output (in output order). */
  readonly tolerance: number | readonly number[];
  readonly build: (b: GraphBuilder) => Value[];
  readonly inputs: Record<string, TensorValue>;
}

const f32 = (dims: number[], lo = -1, hi = 1): TensorValue => ({
  dtype: 'float32',
  dims,
  data: rand(
    dims.reduce((a, b) => a * b, 1),
    lo,
    hi,
  ),
});
const w = (b: GraphBuilder, name: string, dims: number[], lo = -1, hi = 1) =>
  b.weight(
    name,
    hostTensor(
      dims,
      rand(
        dims.reduce((a, c) => a * c, 1),
        lo,
        hi,
      ),
    ),
  );
const inp = (b: GraphBuilder, name: string, dims: number[]) => b.input(name, 'float32', dims);

const EXACT = 2e-6;
const SUMS = 1e-5;

const cases: Case[] = [
  {
    name: 'binary ops with broadcasting',
    tolerance: EXACT,
    build: (b) => {
      const x = inp(b, 'x', [2, 3, 4]);
      const v = w(b, 'v', [4], 0.5, 1.5);
      const c = w(b, 'c', [3, 1], 0.5, 1.5);
      return [b.add(x, v), b.sub(c, x), b.mul(x, c), b.div(x, v), b.max(x, c)];
    },
    inputs: { x: f32([2, 3, 4]) },
  },
  {
    name: 'unary ops',
    tolerance: EXACT,
    build: (b) => {
      const x = inp(b, 'x', [3, 40]);
      const p = inp(b, 'p', [3, 40]);
      return [b.exp(x), b.neg(x), b.sqrt(p), b.sigmoid(x), b.tanh(x), b.relu(x), b.softplus(x)];
    },
    inputs: { x: f32([3, 40], -30, 30), p: f32([3, 40], 0, 50) },
  },
  {
    name: 'a fused elementwise chain with a shared operand',
    tolerance: EXACT,
    build: (b) => {
      const x = inp(b, 'x', [2, 5, 16]);
      const y = inp(b, 'y', [2, 5, 16]);
      const m = w(b, 'm', [16]);
      const d = b.sub(y, x);
      const lerp = b.add(x, b.mul(d, m));
      return [b.mul(b.sigmoid(lerp), b.tanh(d))];
    },
    inputs: { x: f32([2, 5, 16]), y: f32([2, 5, 16]) },
  },
  {
    name: 'Linear and batched MatMul with a broadcast batch dim',
    tolerance: SUMS,
    build: (b) => {
      const x = inp(b, 'x', [2, 3, 48]);
      const a = inp(b, 'a', [5, 2, 3, 4]);
      return [b.linear(x, w(b, 'W', [40, 48])), b.matmul(a, w(b, 'B', [5, 1, 4, 6]))];
    },
    inputs: { x: f32([2, 3, 48]), a: f32([5, 2, 3, 4]) },
  },
  {
    // Few rows (decoding) run our GEMV on float32 activations: as exact as float32. More
    // rows run cuBLAS on tensor cores, which needs the activations rounded to float16 too
    // (relative 2^-11 each; measured 1.6e-3 over K = 96).
    name: 'Linear with float16 weights: decode rows (our GEMV) and a batch (cuBLAS)',
    weightDType: 'float16',
    tolerance: [SUMS, SUMS, 4e-3, SUMS],
    build: (b) => {
      const W = w(b, 'W', [72, 96]);
      return [
        b.linear(inp(b, 'x1', [1, 1, 96]), W),
        b.linear(inp(b, 'x3', [3, 1, 96]), W),
        b.linear(inp(b, 'x9', [3, 3, 96]), W),
        // rows of 137 16-byte chunks: several loads a lane of the GEMV, a partial last round
        b.linear(inp(b, 'x2', [2, 1, 1096]), w(b, 'Wlong', [40, 1096])),
      ];
    },
    inputs: { x1: f32([1, 1, 96]), x3: f32([3, 1, 96]), x9: f32([3, 3, 96]), x2: f32([2, 1, 1096]) },
  },
  {
    name: 'Gather, LayerNorm (affine and plain), ReduceSum',
    tolerance: SUMS,
    build: (b) => {
      const idx = b.input('idx', 'int32', [2, 3]);
      const x = inp(b, 'x', [4, 3, 96]);
      const e = b.gather(w(b, 'table', [10, 6]), idx);
      return [
        e,
        b.layerNorm(x, w(b, 'g', [96]), w(b, 'beta', [96]), 1e-5),
        b.layerNorm(x, null, null, 64e-5),
        b.reduceSum(x, [-1], true), // trailing rows, 16-byte loads
        b.reduceSum(x, [1, 2], false), // two trailing axes as one row
        b.reduceSum(inp(b, 'o', [2, 7, 5]), [-1], false), // rows of 5: scalar loads
        b.reduceSum(x, [0, 2], false), // the general kernel
      ];
    },
    inputs: {
      idx: { dtype: 'int32', dims: [2, 3], data: Int32Array.from([0, 9, 3, 3, 7, 1]) },
      x: f32([4, 3, 96], -3, 5),
      o: f32([2, 7, 5], -3, 5),
    },
  },
  {
    name: 'Reshape, Transpose, Concat, Slice, SliceFrom, Squeeze, Cast',
    tolerance: 0,
    build: (b) => {
      const x = inp(b, 'x', [2, 6, 4]);
      const start = b.input('start', 'int32', [1]);
      const i = b.input('i', 'int32', [3]);
      const t = b.transpose(b.reshape(x, [2, 3, 2, 4]), [2, 0, 3, 1]);
      const head = b.slice(x, 1, 0, -1);
      const tail = b.slice(x, 1, -2, 100);
      return [
        t,
        b.concat([head, tail, x], 1),
        b.sliceFrom(x, 1, start, 'rest'),
        b.squeeze(b.slice(x, 1, 3, 4), 1),
        b.cast(i, 'float32'),
      ];
    },
    inputs: {
      x: f32([2, 6, 4]),
      start: { dtype: 'int32', dims: [1], data: Int32Array.of(4) },
      i: { dtype: 'int32', dims: [3], data: Int32Array.from([-5, 0, 123456]) },
    },
  },
  {
    name: 'Wkv4 over 9 steps from a warm state',
    tolerance: SUMS,
    build: (b) => {
      const [k, v] = [inp(b, 'k', [3, 9, 20]), inp(b, 'v', [3, 9, 20])];
      const r = b.wkv4(
        k,
        v,
        w(b, 'w', [20], -2, -0.1),
        w(b, 'u', [20]),
        inp(b, 'aa', [3, 20]),
        inp(b, 'bb', [3, 20]),
        inp(b, 'pp', [3, 20]),
      );
      return [r.y, r.aa, r.bb, r.pp];
    },
    inputs: {
      k: f32([3, 9, 20], -3, 3),
      v: f32([3, 9, 20]),
      aa: f32([3, 20]),
      bb: f32([3, 20], 0.5, 2),
      pp: f32([3, 20], -2, 2),
    },
  },
  {
    name: 'Wkv5 (RWKV-5.2 decay per head and RWKV-6 decay per step)',
    tolerance: SUMS,
    build: (b) => {
      const d = [2, 7, 3, 16];
      const [r, k, v] = [inp(b, 'r', d), inp(b, 'k', d), inp(b, 'v', d)];
      const s = inp(b, 's', [2, 3, 16, 16]);
      const u = w(b, 'u', [3, 16]);
      const fixed = b.wkv5(r, k, v, w(b, 'wh', [3, 16], 0.3, 0.99), u, s);
      const perStep = b.wkv5(r, k, v, inp(b, 'wt', d), u, s);
      return [fixed.y, fixed.s, perStep.y, perStep.s];
    },
    inputs: {
      r: f32([2, 7, 3, 16]),
      k: f32([2, 7, 3, 16]),
      v: f32([2, 7, 3, 16]),
      wt: f32([2, 7, 3, 16], 0.3, 0.99),
      s: f32([2, 3, 16, 16]),
    },
  },
  {
    name: 'QShift: VRWKV quarters with unshifted channels, VRWKV6 heads, a shift past the grid',
    tolerance: EXACT,
    build: (b) => {
      const x = inp(b, 'x', [2, 20, 24]);
      return [
        b.qShift(x, { rows: 4, cols: 5, group: 5, shift: 1, heads: 1 }),
        b.qShift(x, { rows: 4, cols: 5, group: 6, shift: 2, heads: 3 }),
        b.qShift(x, { rows: 4, cols: 5, group: 6, shift: 5, heads: 1 }),
      ];
    },
    inputs: { x: f32([2, 20, 24]) },
  },
  {
    name: 'BiWkv4 over 196 patches (Vision-RWKV)',
    tolerance: SUMS,
    build: (b) => {
      const [k, v] = [inp(b, 'k', [2, 196, 24]), inp(b, 'v', [2, 196, 24])];
      return [b.biWkv4(k, v, w(b, 'w', [24], -50, 500), w(b, 'u', [24], -100, 100))];
    },
    inputs: { k: f32([2, 196, 24], -3, 3), v: f32([2, 196, 24]) },
  },
  {
    name: 'BiWkv6 over 196 patches, head size 64 (Vision-RWKV 6)',
    tolerance: SUMS,
    build: (b) => {
      const d = [2, 196, 2, 64];
      const [r, k, v, ww] = ['r', 'k', 'v', 'w'].map((n) => inp(b, n, d)) as [Value, Value, Value, Value];
      return [b.biWkv6(r, k, v, ww, w(b, 'u', [2, 64]))];
    },
    inputs: {
      r: f32([2, 196, 2, 64]),
      k: f32([2, 196, 2, 64], -0.3, 0.3),
      v: f32([2, 196, 2, 64]),
      // exp(-exp(x)) for x in [-6, 0.5]: the official decays' range, long memories included
      w: f32([2, 196, 2, 64], 0.19, 0.9975),
    },
  },
  {
    name: 'Wkv7 over 11 steps, head size 64',
    tolerance: SUMS,
    build: (b) => {
      const d = [2, 11, 2, 64];
      const names = ['r', 'w', 'k', 'v', 'a', 'bb'] as const;
      const [r, ww, k, v, a, bb] = names.map((n) => inp(b, n, d)) as [
        Value,
        Value,
        Value,
        Value,
        Value,
        Value,
      ];
      const out = b.wkv7(r, ww, k, v, a, bb, inp(b, 's', [2, 2, 64, 64]));
      return [out.y, out.s];
    },
    inputs: {
      r: f32([2, 11, 2, 64]),
      w: f32([2, 11, 2, 64], 0.5, 0.999),
      k: f32([2, 11, 2, 64], -0.3, 0.3),
      v: f32([2, 11, 2, 64]),
      // a = -kappa, b = kappa * lr as RWKV-7 forms them: keeps the state bounded
      a: f32([2, 11, 2, 64], -0.1, 0),
      bb: f32([2, 11, 2, 64], 0, 0.1),
      s: f32([2, 2, 64, 64]),
    },
  },
];

function graphOf(c: Case): Graph {
  const b = new GraphBuilder(c.name.replace(/\W+/g, '_'));
  c.build(b).forEach((v, i) => {
    b.output(`out${i}`, v);
  });
  return b.build();
}

function maxRelError(got: TensorValue, want: TensorValue): number {
  expect(got.dims).toEqual(want.dims);
  let m = 0;
  for (let i = 0; i < want.data.length; i++) {
    const e = Math.abs(got.data[i]! - want.data[i]!) / (1 + Math.abs(want.data[i]!));
    if (!(e <= m)) m = Number.isNaN(e) ? Number.POSITIVE_INFINITY : e;
  }
  return m;
}

describe.skipIf(!probe.ok)(`every op on CUDA against the CPU backend (${probe.reason.slice(0, 120)})`, () => {
  const compiled: CompiledGraph[] = [];
  afterAll(async () => {
    for (const c of compiled) await c.dispose();
  });

  for (const c of cases) {
    it(c.name, async () => {
      const graph = graphOf(c);
      const dtype = c.weightDType ? { weightDType: c.weightDType } : {};
      const cpu = await onnxBackend.compile(graph, { device: 'cpu', ...dtype });
      const gpu = await cudaBackend.compile(graph, { device: 'cuda', ...dtype });
      compiled.push(cpu, gpu);
      const want = await cpu.run(c.inputs);
      // Three calls: eager, the one recorded as a CUDA graph, and a replay.
      for (let call = 0; call < 3; call++) {
        const got = await gpu.run(c.inputs);
        const errors = Object.keys(want).map((k) => [k, maxRelError(got[k]!, want[k]!)] as const);
        if (call === 0)
          console.log(`${c.name}: ${errors.map(([k, e]) => `${k} ${e.toExponential(2)}`).join(', ')}`);
        errors.forEach(([k, e], i) => {
          const bound = typeof c.tolerance === 'number' ? c.tolerance : c.tolerance[i]!;
          expect(e, `${k} (call ${call})`).toBeLessThanOrEqual(bound);
        });
      }
    });
  }
});
