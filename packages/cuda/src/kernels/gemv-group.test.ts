import { BadInputError, decodeFloat16, encodeFloat16, SeededRandom } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { callDims } from '../../test-support/call-dims.js';
import { hasNvcc, nvccPtx } from '../../test-support/nvcc.js';
import { smallRwkv7Graphs } from '../../test-support/rwkv7-graphs.js';
import { standInRuntime } from '../../test-support/stand-in-runtime.js';
import { probeGpu } from '../driver/probe.js';
import { Plan, type PlanOptions } from '../exec/plan.js';
import { inferShapes } from '../exec/shapes.js';
import { DeviceWeights } from '../exec/weights.js';
import { sharedRuntime } from '../runtime.js';
import type { FusedProgram } from './elementwise.js';
import { type GemvSegmentSpec, gemvGroupKernel, gemvSplit } from './gemv-group.js';
import { withGridDependency } from './grid-dependency.js';

/**
 * The GEMV group kernel with several output columns a warp (`columns`): its launch size and
 * compilation here, and on a GPU its results against a float64 product of the same half
 * weights, with a prologue (tanh of the input) and an epilogue (a bias add) in the group.
 */

const tanh: FusedProgram = { leaves: 1, nodes: [{ op: 'Tanh', args: [{ leaf: 0 }] }] };
const addBias: FusedProgram = { leaves: 2, nodes: [{ op: 'Add', args: [{ leaf: 0 }, { leaf: 1 }] }] };

/** Two segments over M rows: a plain one (N0 x K0) and one with tanh in and a bias out (N1 x K1). */
function segments(M: number, [n0, k0]: [number, number], [n1, k1]: [number, number]): GemvSegmentSpec[] {
  const rows = (stride: number) => Array.from({ length: M }, (_, m) => m * stride);
  return [
    {
      type: 'f16',
      n: n0,
      k: k0,
      input: { operands: [{ rowOffsets: rows(k0), colStride: 1, vector: true }] },
    },
    {
      type: 'bf16',
      n: n1,
      k: k1,
      input: { program: tanh, operands: [{ rowOffsets: rows(k1), colStride: 1 }] },
      output: {
        program: addBias,
        acc: 0,
        operands: [
          { rowOffsets: new Array<number>(M).fill(0), colStride: 1 },
          { rowOffsets: new Array<number>(M).fill(0), colStride: 1 },
        ],
      },
    },
  ];
}

describe('GEMV groups with several columns a warp', () => {
  it('launch a warp per `columns` outputs (times the split), and reject other counts', () => {
    for (const columns of [1, 2, 4] as const) {
      const k = gemvGroupKernel(1, [segments(1, [2048, 2048], [64, 256])[0]!], { columns });
      const split = gemvSplit(2048 / columns, 2048);
      expect(k.blocks).toBe(((2048 / columns) * split) / 4);
    }
    // a column count that does not divide N: the last warp's extra columns store nothing
    const odd = gemvGroupKernel(1, [segments(1, [10, 64], [4, 64])[0]!], { columns: 4 });
    expect(odd.blocks).toBe(1);
    expect(odd.source).toContain('if ((n + 3) < 10)');
    expect(() => gemvGroupKernel(1, segments(1, [8, 64], [8, 64]), { columns: 3 as 2 })).toThrow(
      BadInputError,
    );
  });

  it(
    'are chosen by plans through gemvColumns or RWKV_STREAMS_CUDA_GEMV_COLUMNS, which must be 1, 2 or 4',
    {
      timeout: 120_000,
    },
    () => {
      const { step } = smallRwkv7Graphs(3);
      const kernels: { source: string; name: string; gridDependency: boolean }[] = [];
      const rt = standInRuntime(kernels);
      const weights = DeviceWeights.upload(rt, [step], 'float16');
      const scalars = new Map([['logits_from', 0]]);
      const shapes = inferShapes(step, callDims(step, 1, 1), scalars);
      const build = (options: PlanOptions) =>
        Plan.build(rt, step, shapes, weights, scalars, options).dispose();
      const gemvSources = () => kernels.filter((k) => k.name.startsWith('rwkv_gemvg_')).map((k) => k.source);
      build({ gemvColumns: 2 });
      expect(gemvSources().length).toBeGreaterThan(0);
      expect(gemvSources().every((src) => src.includes('acc1['))).toBe(true);
      // every GEMV of a decode step (prologues, epilogues, LoRA widths) compiles with 4 columns
      if (hasNvcc) {
        kernels.length = 0;
        build({ gemvColumns: 4 });
        for (const src of gemvSources()) nvccPtx(src);
      }
      kernels.length = 0;
      const before = process.env['RWKV_STREAMS_CUDA_GEMV_COLUMNS'];
      try {
        process.env['RWKV_STREAMS_CUDA_GEMV_COLUMNS'] = '3';
        expect(() => build({})).toThrow(/RWKV_STREAMS_CUDA_GEMV_COLUMNS must be 1, 2, 4 or auto, not '3'/);
        process.env['RWKV_STREAMS_CUDA_GEMV_COLUMNS'] = '1';
        build({});
        expect(gemvSources().some((src) => src.includes('acc1['))).toBe(false);
      } finally {
        if (before === undefined) delete process.env['RWKV_STREAMS_CUDA_GEMV_COLUMNS'];
        else process.env['RWKV_STREAMS_CUDA_GEMV_COLUMNS'] = before;
      }
    },
  );

  it('keep the one-column source for columns: 1', () => {
    const segs = segments(2, [256, 512], [64, 256]);
    expect(gemvGroupKernel(2, segs, { columns: 1 }).source).toBe(gemvGroupKernel(2, segs).source);
  });

  it.skipIf(!hasNvcc)(
    'compile without warnings (nvcc -ptx for sm_90), split and not, plainly and for dependent launch',
    () => {
      for (const [columns, loadsInFlight] of [
        [2, 4],
        [4, 4],
        [4, 2],
      ] as const)
        for (const M of [1, 3]) {
          const k = gemvGroupKernel(M, segments(M, [2048, 2048], [8192, 2048]), { columns, loadsInFlight });
          nvccPtx(k.source);
          nvccPtx(withGridDependency(k.source));
        }
    },
    120_000,
  );
});

const probe = probeGpu();

describe.skipIf(!probe.ok)(
  `GEMV groups with several columns a warp on the GPU (${probe.reason.slice(0, 100)})`,
  () => {
    // loads in flight: 4 is the kernel's default, 2 what plans take with 4 columns on wide
    // matrices (exec/gemv-tiling.ts), 1 and 8 the ends a lane's unrolled loads may take
    it.each([
      [1, 1, 4],
      [2, 1, 4],
      [4, 1, 4],
      [2, 3, 4],
      [4, 4, 4],
      [4, 1, 2],
      [4, 3, 2],
      [2, 1, 1],
      [1, 4, 8],
    ] as const)('%i columns, %i rows, %i loads in flight: within 1e-5 of a float64 product of the same weights', (columns, M, loadsInFlight) => {
      const rt = sharedRuntime();
      const rng = new SeededRandom(31 + columns * 10 + M + 100 * loadsInFlight);
      // 1000 columns (not a multiple of 4: a last warp with fewer), K 512 (split); 96 x 64
      const shapes: [[number, number], [number, number]] = [
        [1000, 512],
        [96, 64],
      ];
      const segs = segments(M, ...shapes);
      const kernel = gemvGroupKernel(M, segs, { columns, loadsInFlight });
      const fn = rt.kernel(kernel.source, kernel.name);
      // core exports the array forms only (floatToHalf is internal: the GPU run of 2026-12-05 late
      // found the import undefined)
      const f16 = (x: number) => encodeFloat16(new Float32Array([x]))[0]!;
      const halfToFloat = (h: number) => decodeFloat16(new Uint16Array([h]))[0]!;
      const bf16 = (x: number) => new Uint16Array(new Float32Array([x]).buffer)[1]!; // truncation
      const bf16ToFloat = (h: number) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]!;
      const ptrs: bigint[] = [];
      const up = (a: ArrayBufferView) => {
        const p = rt.ctx.malloc(a.byteLength);
        rt.ctx.copyToDevice(p, a);
        ptrs.push(p);
        return p;
      };
      const want: Float64Array[] = [];
      const ys: { ptr: bigint; n: number }[] = [];
      const args: { ptr: bigint }[] = [];
      shapes.forEach(([n, k], s) => {
        const half = s === 0 ? f16 : bf16;
        const back = s === 0 ? halfToFloat : bf16ToFloat;
        const w = Uint16Array.from({ length: n * k }, () => half(rng.normal() * 0.1));
        const x = Float32Array.from({ length: M * k }, () => rng.normal());
        const bias = Float32Array.from({ length: n }, () => rng.normal());
        const y = rt.ctx.malloc(M * n * 4);
        ptrs.push(y);
        ys.push({ ptr: y, n });
        args.push({ ptr: up(w) }, { ptr: y }, { ptr: up(x) });
        if (s === 1) args.push({ ptr: up(bias) });
        const ref = new Float64Array(M * n);
        for (let m = 0; m < M; m++)
          for (let j = 0; j < n; j++) {
            let acc = 0;
            for (let i = 0; i < k; i++) {
              const xi = x[m * k + i]!;
              acc += back(w[j * k + i]!) * (s === 1 ? Math.tanh(xi) : xi);
            }
            ref[m * n + j] = s === 1 ? acc + bias[j]! : acc;
          }
        want.push(ref);
      });
      rt.ctx.launch(fn, { grid: [kernel.blocks], block: [kernel.threads], stream: rt.stream }, args);
      ys.forEach(({ ptr, n }, s) => {
        const got = new Float32Array(M * n);
        rt.ctx.copyToHost(got, ptr, rt.stream);
        rt.stream.synchronize();
        let worst = 0;
        for (let i = 0; i < got.length; i++)
          worst = Math.max(worst, Math.abs(got[i]! - want[s]![i]!) / Math.max(1, Math.abs(want[s]![i]!)));
        expect(worst, `segment ${s}`).toBeLessThan(1e-5);
      });
      for (const p of ptrs) rt.ctx.free(p);
    });
  },
);
