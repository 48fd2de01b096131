import { BadInputError, type Graph } from '@rwkv-streams/core';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { callDims } from '../../test-support/call-dims.js';
import { hasNvcc, nvccPtx } from '../../test-support/nvcc.js';
import { smallRwkv7Graphs } from '../../test-support/rwkv7-graphs.js';
import { standInRuntime } from '../../test-support/stand-in-runtime.js';
import { clusterLaunchAttribute, declareTypes, programmaticLaunchAttribute } from '../driver/cuda-driver.js';
import { DEPENDENT_LAUNCH_MAX_ROWS, resolveGridDependency } from '../exec/dependent-launch.js';
import { Plan } from '../exec/plan.js';
import { inferShapes } from '../exec/shapes.js';
import { DeviceWeights } from '../exec/weights.js';
import { GRID_WAIT, supportsGridDependency, withGridDependency } from './grid-dependency.js';

const WAIT = /RWKV_GRID_WAIT\(\);/g;

describe('withGridDependency', () => {
  it('puts the wait first in every kernel, on the line of its brace', () => {
    const src = `extern "C" __global__ void a(float* x,
    int n) { x[0] = 1.f; }
#define K(T) extern "C" __global__ void k_##T(const T* __restrict__ p, \\
    float* out) { out[0] = (float)p[0]; }
K(float)
extern "C" __global__ void __launch_bounds__(256) b(float* y) {
  if (threadIdx.x == 0) y[0] = 2.f;
}`;
    const out = withGridDependency(src);
    expect(out.match(WAIT)?.length).toBe(3);
    expect(out).toContain(`int n) { ${GRID_WAIT} x[0] = 1.f; }`);
    expect(out).toContain(`float* out) { ${GRID_WAIT} out[0]`);
    expect(out).toContain(`void __launch_bounds__(256) b(float* y) { ${GRID_WAIT}\n`);
    expect(out.indexOf('#define RWKV_GRID_WAIT')).toBe(out.indexOf('#if') + out.split('\n')[0]!.length + 1);
  });

  it('leaves a kernel that places its own wait, and only that one', () => {
    const src = `extern "C" __global__ void own(const float* w, float* y) {
  float a = w[threadIdx.x];
  ${GRID_WAIT}
  y[threadIdx.x] = a;
}
extern "C" __global__ void plain(float* y) { y[0] = 0.f; }`;
    const out = withGridDependency(src);
    expect(out.match(WAIT)?.length).toBe(2);
    expect(out).toContain(`void plain(float* y) { ${GRID_WAIT} y[0]`);
    expect(out).toContain('void own(const float* w, float* y) {\n  float a');
  });

  it('is for sm_90 and later', () => {
    expect(supportsGridDependency('sm_90')).toBe(true);
    expect(supportsGridDependency('sm_100')).toBe(true);
    expect(supportsGridDependency('sm_89')).toBe(false);
    expect(supportsGridDependency('compute_90')).toBe(false);
  });
});

describe('programmatic dependent launch in the driver bindings', () => {
  it('lays out CUlaunchConfig as cuda.h does and asks for programmatic serialization', () => {
    declareTypes();
    expect(koffi.sizeof('CUlaunchConfig')).toBe(56);
    expect(koffi.offsetof('CUlaunchConfig', 'sharedMemBytes')).toBe(24);
    expect(koffi.offsetof('CUlaunchConfig', 'hStream')).toBe(32);
    expect(koffi.offsetof('CUlaunchConfig', 'attrs')).toBe(40);
    expect(koffi.offsetof('CUlaunchConfig', 'numAttrs')).toBe(48);
    const a = new DataView(programmaticLaunchAttribute().buffer);
    expect(a.byteLength).toBe(72); // an 8-byte id and padding, a 64-byte value union
    expect(a.getInt32(0, true)).toBe(6); // CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION
    expect(a.getInt32(8, true)).toBe(1);
  });

  it('gives a cluster shape as value.clusterDim, missing sides 1', () => {
    const c = new DataView(clusterLaunchAttribute([16]).buffer);
    expect(c.byteLength).toBe(72);
    expect(c.getInt32(0, true)).toBe(4); // CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION
    expect([c.getUint32(8, true), c.getUint32(12, true), c.getUint32(16, true)]).toEqual([16, 1, 1]);
    const d = new DataView(clusterLaunchAttribute([2, 4, 2]).buffer);
    expect([d.getUint32(8, true), d.getUint32(12, true), d.getUint32(16, true)]).toEqual([2, 4, 2]);
  });
});

describe('plans with programmatic dependent launch (stand-in runtime)', () => {
  const { step, seq } = smallRwkv7Graphs(5);
  const kernelsOf = (g: Graph, batch: number, t: number, gridDependency: boolean) => {
    const kernels: { source: string; name: string; gridDependency: boolean }[] = [];
    const rt = standInRuntime(kernels);
    const weights = DeviceWeights.upload(rt, [g], 'float16');
    const scalars = new Map([['logits_from', t - 1]]);
    const shapes = inferShapes(g, callDims(g, batch, t), scalars);
    Plan.build(rt, g, shapes, weights, scalars, { lanes: 4, gridDependency });
    return kernels;
  };

  it('asks for every plan kernel that way when on, none when off', () => {
    const on = kernelsOf(step, 1, 1, true);
    expect(on.length).toBeGreaterThan(10);
    expect(on.every((k) => k.gridDependency)).toBe(true);
    expect(kernelsOf(step, 1, 1, false).some((k) => k.gridDependency)).toBe(false);
  });

  it('the GEMV kernels place their wait after the first weight loads', () => {
    const gemvs = kernelsOf(step, 1, 1, true).filter((k) => k.name.startsWith('rwkv_gemvg_'));
    expect(gemvs.length).toBeGreaterThan(0);
    for (const { source } of gemvs) {
      const body = source.slice(source.indexOf('__global__'));
      expect(body.indexOf('__ldg(row')).toBeLessThan(body.indexOf(GRID_WAIT));
      expect(withGridDependency(source).match(WAIT)?.length).toBe(body.match(WAIT)?.length);
    }
  });

  it.skipIf(!hasNvcc)(
    'every kernel of a decode step and a prefill compiles for sm_90 without warnings after the transform (nvcc -ptx)',
    () => {
      const all = [
        ...kernelsOf(step, 1, 1, true),
        ...kernelsOf(seq, 1, 7, true),
        ...kernelsOf(step, 3, 1, true),
      ];
      const sources = [...new Set(all.map((k) => k.source))];
      sources.forEach((source, i) => {
        expect(nvccPtx(withGridDependency(source)), `kernel source ${i}`).toContain('griddepcontrol.wait');
      });
    },
    120_000,
  );
});

describe('which plans launch that way by default', () => {
  const { step, seq } = smallRwkv7Graphs(5);
  const shapesOf = (g: Graph, batch: number, t: number) =>
    inferShapes(g, callDims(g, batch, t), new Map([['logits_from', t - 1]]));
  it('graphs whose Linears take at most 64 rows (decoding up to 64 streams), not longer prefills', () => {
    expect(resolveGridDependency(undefined, step, shapesOf(step, 1, 1), undefined)).toBe(true);
    expect(
      resolveGridDependency(undefined, step, shapesOf(step, DEPENDENT_LAUNCH_MAX_ROWS, 1), undefined),
    ).toBe(true);
    expect(
      resolveGridDependency(undefined, step, shapesOf(step, DEPENDENT_LAUNCH_MAX_ROWS + 1, 1), undefined),
    ).toBe(false);
    expect(resolveGridDependency(undefined, seq, shapesOf(seq, 1, 512), undefined)).toBe(false);
    expect(resolveGridDependency(undefined, seq, shapesOf(seq, 8, 8), undefined)).toBe(true);
  });
  it('the option, then RWKV_STREAMS_CUDA_PDL, decide first; a bad value is a typed error', () => {
    const s1 = shapesOf(step, 1, 1);
    expect(resolveGridDependency(false, step, s1, '1')).toBe(false);
    expect(resolveGridDependency(undefined, step, s1, '0')).toBe(false);
    expect(resolveGridDependency(undefined, seq, shapesOf(seq, 1, 512), '1')).toBe(true);
    expect(() => resolveGridDependency(undefined, step, s1, 'yes')).toThrow(BadInputError);
    expect(() => resolveGridDependency(undefined, step, s1, 'yes')).toThrow(/RWKV_STREAMS_CUDA_PDL/);
  });
});
