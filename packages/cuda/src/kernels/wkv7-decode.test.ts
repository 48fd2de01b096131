import { describe, expect, it } from 'vitest';
import { callDims } from '../../test-support/call-dims.js';
import { hasNvcc, nvccPtx } from '../../test-support/nvcc.js';
import { smallRwkv7Graphs } from '../../test-support/rwkv7-graphs.js';
import { standInRuntime } from '../../test-support/stand-in-runtime.js';
import { Plan } from '../exec/plan.js';
import { inferShapes } from '../exec/shapes.js';
import { DeviceWeights } from '../exec/weights.js';
import { withGridDependency } from './grid-dependency.js';
import { WKV7_DECODE_ROWS, wkv7DecodeKernel } from './wkv7-decode.js';

describe('the one-step WKV-7 kernel', () => {
  it('a warp a value row: blocks of 32 x WKV7_DECODE_ROWS threads, the head size compiled in', () => {
    const k = wkv7DecodeKernel(64);
    expect(k.threads).toBe(32 * WKV7_DECODE_ROWS);
    expect(k.name).toBe('rwkv_wkv7_decode_n64');
    expect(k.source).toContain('float s[2];'); // 64 columns over 32 lanes
    expect(wkv7DecodeKernel(128).source).toContain('float s[4];');
  });

  it.skipIf(!hasNvcc)(
    'compiles for sm_90 without warnings, plainly and for dependent launch (nvcc -ptx)',
    () => {
      for (const source of [wkv7DecodeKernel(64).source, withGridDependency(wkv7DecodeKernel(32).source)])
        expect(nvccPtx(source)).toContain('shfl.sync.bfly');
    },
    60_000,
  );

  it('a decode plan takes it with wkv7OneStep, a prefill never', () => {
    const { step, seq } = smallRwkv7Graphs(5);
    const labels = (g: typeof step, t: number, wkv7OneStep: boolean) => {
      const kernels: { source: string; name: string; gridDependency: boolean }[] = [];
      const rt = standInRuntime(kernels);
      const weights = DeviceWeights.upload(rt, [g], 'float16');
      const scalars = new Map([['logits_from', t - 1]]);
      const plan = Plan.build(rt, g, inferShapes(g, callDims(g, 1, t), scalars), weights, scalars, {
        lanes: 4,
        wkv7OneStep,
        wkv7RowPrologue: false, // the kernel pinned here is the one without the row prologue
      });
      return { steps: plan.steps.map((s) => s.label), kernels: kernels.map((k) => k.name) };
    };
    const on = labels(step, 1, true);
    expect(on.steps.filter((l) => l.startsWith('Wkv7 (one step)')).length).toBe(2); // 2 layers
    expect(on.kernels).toContain('rwkv_wkv7_decode_n64');
    const off = labels(step, 1, false);
    expect(off.steps.some((l) => l.startsWith('Wkv7 (one step)'))).toBe(false);
    expect(off.steps.length).toBe(on.steps.length);
    expect(labels(seq, 7, true).kernels).not.toContain('rwkv_wkv7_decode_n64');
  });
});
