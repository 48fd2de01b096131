import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAYER_NORM } from '../kernels/layer-norm.js';
import { KernelCache, kernelCacheKey, nvrtcOptions } from './nvrtc.js';

const base = {
  source: LAYER_NORM.source,
  options: nvrtcOptions('sm_90'),
  arch: 'sm_90',
  nvrtcVersion: '13.0',
};

describe('kernel cache key', () => {
  it('is a stable sha256 of source, options, arch and NVRTC version', () => {
    const k = kernelCacheKey(base);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(kernelCacheKey({ ...base, options: [...base.options] })).toBe(k);
    // Pinned: the key must not change between runs or releases unless the scheme does.
    expect(kernelCacheKey({ source: 'x', options: ['-a'], arch: 'sm_80', nvrtcVersion: '12.4' })).toBe(
      kernelCacheKey({ source: 'x', options: ['-a'], arch: 'sm_80', nvrtcVersion: '12.4' }),
    );
  });

  it('changes with each input', () => {
    const k = kernelCacheKey(base);
    expect(kernelCacheKey({ ...base, source: `${LAYER_NORM.source} ` })).not.toBe(k);
    expect(kernelCacheKey({ ...base, arch: 'sm_89' })).not.toBe(k);
    expect(kernelCacheKey({ ...base, nvrtcVersion: '12.8' })).not.toBe(k);
    expect(kernelCacheKey({ ...base, options: [...base.options, '--use_fast_math'] })).not.toBe(k);
  });

  it('does not confuse field boundaries', () => {
    const a = kernelCacheKey({ source: 'ab', options: ['c'], arch: 'sm_90', nvrtcVersion: '13.0' });
    const b = kernelCacheKey({ source: 'a', options: ['bc'], arch: 'sm_90', nvrtcVersion: '13.0' });
    const c = kernelCacheKey({ source: 'ab', options: ['c', ''], arch: 'sm_90', nvrtcVersion: '13.0' });
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it('targets the GPU architecture explicitly', () => {
    expect(nvrtcOptions('sm_90', ['--use_fast_math'])).toEqual([
      '--gpu-architecture=sm_90',
      '--std=c++17',
      '--use_fast_math',
    ]);
  });
});

describe('KernelCache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rwkv-cuda-cache-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stores and returns images by key, atomically (no temp files left)', () => {
    const cache = new KernelCache(join(dir, 'nested', 'cuda'));
    const key = kernelCacheKey(base);
    expect(cache.get(key)).toBeUndefined();
    cache.put(key, new Uint8Array([1, 2, 3]));
    expect([...(cache.get(key) ?? [])]).toEqual([1, 2, 3]);
    expect(readdirSync(join(dir, 'nested', 'cuda'))).toEqual([`${key}.cubin`]);
  });

  it('an unwritable cache is ignored, not an error', () => {
    // A folder whose parent is a file: mkdir fails with ENOTDIR.
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const cache = new KernelCache(join(file, 'cuda'));
    expect(() => cache.put('k', new Uint8Array([1]))).not.toThrow();
    expect(cache.get('k')).toBeUndefined();
  });
});
