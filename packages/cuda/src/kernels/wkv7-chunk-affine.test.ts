import { describe, expect, it } from 'vitest';
import { hasNvcc, nvccPtx } from '../../test-support/nvcc.js';
import {
  type AffineColumns,
  affineSplit,
  wkv7AffineFloats,
  wkv7AffinePrepKernel,
  wkv7AffineScanKernel,
  wkv7AffineScanThreads,
} from './wkv7-chunk-affine.js';

// The kernels' numerics are checked on a GPU against the op's float64 definition in
// kernels/wkv7-chunked.test.ts (the affine runs there); these pin down their shapes.

const tilings: [number, 1 | 2 | 4 | 8, AffineColumns][] = [];
for (const N of [16, 32, 64])
  for (const g of [1, 2, 4, 8] as const)
    for (const c of [1, 2, 4] as const) if ((N / 4) % g === 0 && N % (4 * c) === 0) tilings.push([N, g, c]);

describe('the affine chunked WKV-7 kernels', () => {
  it('store M, Wq, Rc and Wy for each chunk', () => {
    expect(wkv7AffineFloats(64)).toBe(64 * 64 + 16 * 64 + 64 * 16 + 16 * 16);
    expect(wkv7AffineFloats(16)).toBe(16 * 16 + 2 * 16 * 16 + 16 * 16);
  });

  it('give a scan block a thread a unit of work, 64 to 1024 of them', () => {
    // 1.5B at batch 1: 4 blocks a head, 16 rows each: 32 x 4 state units + 4 x 16 output units
    expect(wkv7AffineScanThreads(64, 4, 2)).toBe(192);
    expect(wkv7AffineScanThreads(64, 8, 2)).toBe(96);
    expect(wkv7AffineScanThreads(64, 1, 1)).toBe(1024); // 1280 units: some threads take two
    expect(wkv7AffineScanThreads(16, 4, 4)).toBe(64);
    expect(wkv7AffineScanThreads(64, 4, 2, 2)).toBe(384);
    for (const [N, g, c] of tilings)
      for (const split of [1, 2, 4] as const) {
        const k = wkv7AffineScanKernel(N, g, c, split, 3);
        expect(k.threads % 32, `${N} ${g} ${c} ${split}`).toBe(0);
        expect(k.threads, `${N} ${g} ${c} ${split}`).toBeLessThanOrEqual(1024);
        expect(k.sharedBytes, `${N} ${g} ${c} ${split}`).toBeLessThanOrEqual(227 * 1024);
      }
  });

  it('share a unit between 2 lanes unless that takes more than 1024 threads', () => {
    expect(affineSplit(64, 8, 2)).toBe(2); // 0.1B at batch 1: 96 units
    expect(affineSplit(64, 4, 2)).toBe(2); // 1.5B at batch 1: 192 units
    expect(affineSplit(16, 4, 2)).toBe(2); // 24 units
    expect(affineSplit(64, 1, 2)).toBe(1); // 768 units
  });

  it('refuse a head size or a tiling they are not built for', () => {
    expect(() => wkv7AffineScanKernel(128, 1)).toThrow(/head size 128/);
    expect(() => wkv7AffineScanKernel(16, 8)).toThrow(/multiple of 4 x 8 groups/);
    expect(() => wkv7AffineScanKernel(8, 1, 4)).toThrow(/8 and 4 columns/);
  });

  // every tiling at its default lanes, and each lane count at the 0.1B / 1.5B layouts
  const compiled = [
    ...tilings.map(([N, g, c]) => wkv7AffineScanKernel(N, g, c)),
    ...([1, 2, 4] as const).flatMap((split) => [
      wkv7AffineScanKernel(64, 8, 2, split),
      wkv7AffineScanKernel(64, 4, 1, split),
    ]),
    ...([2, 3] as const).flatMap((stages) => [
      wkv7AffineScanKernel(64, 4, 2, 1, stages),
      wkv7AffineScanKernel(64, 1, 2, 1, stages),
      wkv7AffineScanKernel(16, 4, 4, 4, stages),
    ]),
    wkv7AffinePrepKernel(64),
    wkv7AffinePrepKernel(16),
  ];
  for (const k of compiled)
    it.skipIf(!hasNvcc)(`${k.name} compiles for sm_90 without warnings`, () => {
      expect(nvccPtx(k.source)).toContain(k.name);
    });
});
