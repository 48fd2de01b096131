import { type CompiledGraph, GraphBuilder, SeededRandom, type TensorValue } from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createCudaBackend } from '../backend/cuda-backend.js';
import { probeGpu } from '../driver/probe.js';
import { useAffineWkv7, useChunkedWkv7, wkv7RowGroups, wkv7ScratchBytes } from '../exec/lower/wkv.js';
import { useWkv7Decode } from './wkv7-decode.js';

/**
 * The Wkv7 op on CUDA, step kernel (T < 16) and chunked kernel (T >= 16), against the
 * op's definition computed step by step in float64, on inputs formed as RWKV-7 forms them
 * (decays exp(-e^-0.5 sigmoid(z)), a = -kk and b = kk * lr with kk unit per head).
 * Bound: max |cuda - ref| / (1 + |ref|) <= 2e-5 (the chunked form divides by decay
 * products down to 0.545^16 inside a chunk; measured on an H100 in gpu-runs/).
 */

const probe = probeGpu();

interface Inputs {
  readonly dims: readonly [number, number, number, number];
  readonly r: Float32Array;
  readonly w: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
  readonly a: Float32Array;
  readonly b: Float32Array;
  readonly s: Float32Array;
}

function rwkv7Inputs(B: number, T: number, H: number, N: number, seed: number): Inputs {
  const rng = new SeededRandom(seed);
  const n = B * T * H * N;
  const u = (lo: number, hi: number) => lo + (hi - lo) * rng.uniform();
  const r = Float32Array.from({ length: n }, () => u(-1, 1));
  const k = Float32Array.from({ length: n }, () => u(-0.5, 0.5));
  const v = Float32Array.from({ length: n }, () => u(-1, 1));
  const w = Float32Array.from({ length: n }, () => Math.exp(-Math.exp(-0.5) / (1 + Math.exp(-u(-6, 6)))));
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let row = 0; row < n / N; row++) {
    const kk = Array.from({ length: N }, () => rng.normal());
    const norm = Math.hypot(...kk);
    const lr = u(0, 1);
    for (let j = 0; j < N; j++) {
      a[row * N + j] = -kk[j]! / norm;
      b[row * N + j] = (kk[j]! / norm) * lr;
    }
  }
  const s = Float32Array.from({ length: B * H * N * N }, () => u(-0.2, 0.2));
  return { dims: [B, T, H, N], r, w, k, v, a, b, s };
}

/** The op's definition, one step at a time in float64: y [B,T,H,N], s [B,H,N,N]. */
function referenceWkv7(x: Inputs): { y: Float64Array; s: Float64Array } {
  const [B, T, H, N] = x.dims;
  const y = new Float64Array(B * T * H * N);
  const s = Float64Array.from(x.s);
  for (let bi = 0; bi < B; bi++) {
    for (let h = 0; h < H; h++) {
      const st = s.subarray((bi * H + h) * N * N, (bi * H + h + 1) * N * N);
      for (let t = 0; t < T; t++) {
        const o = ((bi * T + t) * H + h) * N;
        for (let i = 0; i < N; i++) {
          let sa = 0;
          for (let j = 0; j < N; j++) sa += st[i * N + j]! * x.a[o + j]!;
          let acc = 0;
          for (let j = 0; j < N; j++) {
            const e = st[i * N + j]! * x.w[o + j]! + sa * x.b[o + j]! + x.v[o + i]! * x.k[o + j]!;
            st[i * N + j] = e;
            acc += e * x.r[o + j]!;
          }
          y[o + i] = acc;
        }
      }
    }
  }
  return { y, s };
}

function maxRelError(got: TensorValue, want: Float64Array): number {
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got.data[i]! - want[i]!) / (1 + Math.abs(want[i]!));
    if (!(e <= m)) m = Number.isNaN(e) ? Number.POSITIVE_INFINITY : e;
  }
  return m;
}

describe('which WKV-7 kernel a call gets', () => {
  it('one step with a head size lanes divide: a warp a value row (when switched on)', () => {
    expect(useWkv7Decode(1, 64, true)).toBe(true);
    expect(useWkv7Decode(1, 32, true)).toBe(true);
    expect(useWkv7Decode(1, 48, true)).toBe(false);
    expect(useWkv7Decode(2, 64, true)).toBe(false);
    expect(useWkv7Decode(1, 64, false)).toBe(false);
  });

  it('chunks from 16 steps on, for head sizes up to 64 that are multiples of 4', () => {
    expect(useChunkedWkv7(1, 64)).toBe(false);
    expect(useChunkedWkv7(15, 64)).toBe(false);
    expect(useChunkedWkv7(16, 64)).toBe(true);
    expect(useChunkedWkv7(512, 32)).toBe(true);
    expect(useChunkedWkv7(512, 128)).toBe(false);
    expect(useChunkedWkv7(512, 30)).toBe(false);
  });
  it('splits value rows over more blocks when few heads run, up to one block per SM', () => {
    expect(wkv7RowGroups(12, 64, 132)).toBe(8);
    expect(wkv7RowGroups(32, 64, 132)).toBe(4);
    expect(wkv7RowGroups(64, 64, 132)).toBe(2);
    expect(wkv7RowGroups(128, 64, 132)).toBe(1);
    expect(wkv7RowGroups(768, 64, 132)).toBe(1);
    expect(wkv7RowGroups(12, 16, 132)).toBe(4);
    expect(wkv7RowGroups(32, 64, 256)).toBe(8);
  });
  it('walks chunks as affine maps by default when a head is split over 2 or more blocks', () => {
    expect(useAffineWkv7([1, 512, 12, 64], 132, undefined)).toBe(true); // 8 blocks a head
    expect(useAffineWkv7([1, 512, 32, 64], 132, undefined)).toBe(true); // 4
    expect(useAffineWkv7([2, 512, 32, 64], 132, undefined)).toBe(true); // 2
    expect(useAffineWkv7([3, 512, 32, 64], 132, undefined)).toBe(false); // 1
    expect(useAffineWkv7([1, 512, 12, 64], 132, false)).toBe(false);
    expect(useAffineWkv7([3, 512, 32, 64], 132, true)).toBe(true);
  });
  it('prepares chunks in a separate kernel when few heads run and the scratch is small', () => {
    // 12 heads x 32 chunks x (4 x 16 x 64 + 64 + 4 x 16 x 16) floats
    expect(wkv7ScratchBytes([1, 512, 12, 64])).toBe(12 * 32 * 5184 * 4);
    expect(wkv7ScratchBytes([64, 512, 12, 64])).toBe(0); // 768 stream-heads fill the GPU
    expect(wkv7ScratchBytes([1, 1, 12, 64])).toBe(0); // decoding: the step kernel
    expect(wkv7ScratchBytes([1, 1 << 20, 12, 64])).toBe(0); // over 256 MiB: one kernel
    // as affine maps: M [64][64], Wq [16][64], Rc [64][16], Wy [16][16] a chunk
    expect(wkv7ScratchBytes([1, 512, 12, 64], true)).toBe(12 * 32 * 6400 * 4);
    expect(wkv7ScratchBytes([1, 77, 3, 32], true)).toBe(3 * 5 * (32 * 32 + 2 * 16 * 32 + 256) * 4);
    expect(wkv7ScratchBytes([64, 512, 12, 64], true)).toBe(0);
  });
});

describe.skipIf(!probe.ok)(
  `Wkv7 on CUDA against its float64 definition (${probe.reason.slice(0, 100)})`,
  () => {
    const compiled: CompiledGraph[] = [];
    afterAll(async () => {
      for (const c of compiled) await c.dispose();
    });
    const cases: [number, number, number, number][] = [
      // one step: each through the warp-a-row kernel and through the block-a-head step kernel
      [1, 1, 32, 64], // the 1.5B shape's heads
      [64, 1, 12, 64], // 64 streams
      [3, 1, 2, 32],
      [2, 1, 2, 48], // a head size lanes do not divide: the step kernel either way
      [2, 15, 3, 64], // step kernel
      [2, 16, 3, 64], // one whole chunk
      [2, 77, 3, 64], // a partial last chunk
      [1, 512, 2, 64],
      [3, 40, 2, 32],
      [64, 48, 12, 64], // one block a head
      [4, 33, 8, 64], // a head over 4 blocks (132 SMs)
      [8, 20, 8, 64], // a head over 2 blocks (132 SMs)
      [1, 512, 32, 64], // the 1.5B shape's prefill: a head over 4 blocks
      [1, 64, 12, 16], // small heads
      [3, 64, 32, 64], // 96 stream-heads: one block a head (affine only when forced)
    ];
    const runs = cases.flatMap(([B, T, H, N]) => [
      ...[true, false]
        .filter((oneStep) => oneStep || useWkv7Decode(T, N, true))
        .map((oneStep) => ({ B, T, H, N, oneStep, affine: undefined })),
      // the two-kernel form with each chunk as an affine map, at each tiling of its walk
      // (state columns a unit x lanes a unit x buffers of chunk maps; lanes left out: the
      // default for the layout)
      ...(wkv7ScratchBytes([B, T, H, N], true) > 0
        ? (
            [
              [1, undefined, 3],
              [2, 1, 3],
              [2, 2, 3], // the default
              [2, 4, 3],
              [4, undefined, 3],
              [2, undefined, 2],
              [1, 2, 2],
            ] as const
          )
            .filter(([cols]) => N % (4 * cols) === 0)
            .map(([cols, split, stages]) => ({ B, T, H, N, oneStep: true, affine: { cols, split, stages } }))
        : []),
    ]);
    for (const { B, T, H, N, oneStep, affine } of runs) {
      const form =
        wkv7ScratchBytes([B, T, H, N]) > 0
          ? affine
            ? `affine prep + scan kernels, ${affine.cols} columns x ${affine.split ?? 'default'} lanes a unit, ${affine.stages} map buffers`
            : 'four-phase prep + scan kernels'
          : 'one kernel';
      const kind = useChunkedWkv7(T, N)
        ? `chunked, ${form}, ${wkv7RowGroups(B * H, N, 132)} row groups (132 SMs)`
        : useWkv7Decode(T, N, oneStep)
          ? 'one-step kernel'
          : 'step kernel';
      const backend = createCudaBackend({
        wkv7OneStep: oneStep,
        wkv7Affine: affine !== undefined,
        ...(affine ? { wkv7AffineColumns: affine.cols } : {}),
        ...(affine?.split ? { wkv7AffineSplit: affine.split } : {}),
        ...(affine ? { wkv7AffineStages: affine.stages } : {}),
      });
      it(`B ${B}, T ${T}, H ${H}, N ${N} (${kind})`, async () => {
        const gb = new GraphBuilder(`wkv7_${T}_${N}`);
        const d = [B, T, H, N];
        const [r, w, k, v, a, b] = ['r', 'w', 'k', 'v', 'a', 'b'].map((n) => gb.input(n, 'float32', d));
        const out = gb.wkv7(r!, w!, k!, v!, a!, b!, gb.input('s', 'float32', [B, H, N, N]));
        gb.output('y', out.y);
        gb.output('s_out', out.s);
        const gpu = await backend.compile(gb.build(), { device: 'cuda' });
        compiled.push(gpu);
        const x = rwkv7Inputs(B, T, H, N, 1000 + T);
        const tv = (data: Float32Array, dims: number[]): TensorValue => ({ dtype: 'float32', dims, data });
        const feeds = {
          r: tv(x.r, d),
          w: tv(x.w, d),
          k: tv(x.k, d),
          v: tv(x.v, d),
          a: tv(x.a, d),
          b: tv(x.b, d),
          s: tv(x.s, [B, H, N, N]),
        };
        const want = referenceWkv7(x);
        for (let call = 0; call < 2; call++) {
          const got = await gpu.run(feeds);
          const ey = maxRelError(got['y']!, want.y);
          const es = maxRelError(got['s_out']!, want.s);
          if (call === 0)
            console.log(
              `Wkv7 B ${B} T ${T} H ${H} N ${N}: y ${ey.toExponential(2)}, s ${es.toExponential(2)}`,
            );
          expect(ey).toBeLessThanOrEqual(2e-5);
          expect(es).toBeLessThanOrEqual(2e-5);
        }
      });
    }
  },
);
