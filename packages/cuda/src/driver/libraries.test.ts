import { BackendUnavailableError } from '@rwkv-streams/core';
import type { LibraryHandle } from 'koffi';
import { describe, expect, it } from 'vitest';
import {
  CUBLAS,
  CUDA_DRIVER,
  defaultCacheDir,
  librarySearchDirs,
  loadLibrary,
  NVRTC,
  type SearchContext,
  sortCudaVersionDirs,
} from './libraries.js';

const fakeHandle = {} as LibraryHandle;

function fakeContext(
  files: string[],
  env: Record<string, string> = {},
): SearchContext & { opened: string[] } {
  const opened: string[] = [];
  return {
    env,
    listDir: (dir) =>
      dir === '/usr/local' ? ['bin', 'cuda', 'cuda-12.4', 'cuda-13.0', 'cuda-12.10', 'lib'] : [],
    exists: (p) => files.includes(p),
    open: (p) => {
      opened.push(p);
      if (files.includes(p)) return fakeHandle;
      throw new Error(`${p}: cannot open shared object file`);
    },
    opened,
  };
}

describe('library discovery', () => {
  it('orders cuda-X.Y folders newest first, by number', () => {
    expect(sortCudaVersionDirs(['cuda-12.4', 'cuda', 'cuda-13.0', 'cuda-12.10', 'x'])).toEqual([
      'cuda-13.0',
      'cuda-12.10',
      'cuda-12.4',
    ]);
  });

  it('searches CUDA_PATH, CUDA_HOME, LD_LIBRARY_PATH, the standard folders, in that order', () => {
    const ctx = fakeContext([], { CUDA_PATH: '/opt/cp', CUDA_HOME: '/opt/ch', LD_LIBRARY_PATH: '/l1::/l2' });
    expect(librarySearchDirs(ctx)).toEqual([
      '/opt/cp/lib64',
      '/opt/ch/lib64',
      '/l1',
      '/l2',
      '/usr/local/cuda/lib64',
      '/usr/local/cuda-13.0/lib64',
      '/usr/local/cuda-12.10/lib64',
      '/usr/local/cuda-12.4/lib64',
      '/usr/lib/x86_64-linux-gnu',
    ]);
  });

  it('a missing library is a BackendUnavailableError naming it and every place looked', () => {
    const ctx = fakeContext([], { CUDA_PATH: '/opt/cp', LD_LIBRARY_PATH: '/l1' });
    let err: unknown;
    try {
      loadLibrary(NVRTC, ctx);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BackendUnavailableError);
    const e = err as BackendUnavailableError;
    expect(e.code).toBe('BACKEND_UNAVAILABLE');
    for (const part of [
      'NVRTC',
      'libnvrtc.so.13',
      'libnvrtc.so.12',
      '/opt/cp/lib64',
      '/l1',
      '/usr/local/cuda/lib64',
      '/usr/local/cuda-13.0/lib64',
      '/usr/lib/x86_64-linux-gnu',
      "the system loader (dlopen 'libnvrtc.so.13')",
      'CUDA_PATH',
    ]) {
      expect(e.message).toContain(part);
    }
    // The system loader was asked for each soname after the folders.
    expect(ctx.opened).toEqual(['libnvrtc.so.13', 'libnvrtc.so.12']);
  });

  it('takes the first folder that has the library, newest soname first within a folder', () => {
    const ctx = fakeContext(
      ['/l2/libcublas.so.12', '/l2/libcublas.so.13', '/usr/local/cuda/lib64/libcublas.so.13'],
      {
        LD_LIBRARY_PATH: '/l1:/l2',
      },
    );
    expect(loadLibrary(CUBLAS, ctx).path).toBe('/l2/libcublas.so.13');
    const ctx12 = fakeContext(['/usr/local/cuda-12.4/lib64/libcublas.so.12']);
    expect(loadLibrary(CUBLAS, ctx12).path).toBe('/usr/local/cuda-12.4/lib64/libcublas.so.12');
  });

  it('reports a library that exists but fails to open, with the loader error', () => {
    const ctx = fakeContext([]);
    const withBroken: SearchContext = {
      ...ctx,
      exists: (p) => p === '/usr/local/cuda/lib64/libcuda.so.1',
      open: () => {
        throw new Error('wrong ELF class');
      },
    };
    expect(() => loadLibrary(CUDA_DRIVER, withBroken)).toThrow(
      /\/usr\/local\/cuda\/lib64\/libcuda\.so\.1: wrong ELF class/,
    );
  });

  it('the real search either loads each library or explains where it looked', () => {
    // This machine may or may not have a GPU driver, NVRTC or cuBLAS: accept both, but a
    // failure must be the typed error with the full search in its message.
    for (const spec of [CUDA_DRIVER, NVRTC, CUBLAS]) {
      try {
        const l = loadLibrary(spec);
        expect(spec.sonames.some((s) => l.path.endsWith(s))).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(BackendUnavailableError);
        const m = (e as Error).message;
        expect(m).toContain(spec.sonames[0]);
        expect(m).toContain('/usr/local/cuda/lib64');
        expect(m).toContain('/usr/lib/x86_64-linux-gnu');
        expect(m).toContain(`the system loader (dlopen '${spec.sonames[0]}')`);
      }
    }
  });

  it('the kernel cache folder follows RWKV_STREAMS_CUDA_CACHE, XDG_CACHE_HOME, then HOME', () => {
    expect(defaultCacheDir({ RWKV_STREAMS_CUDA_CACHE: '/c', XDG_CACHE_HOME: '/x' })).toBe('/c');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/x/rwkv-streams/cuda');
    expect(defaultCacheDir({ HOME: '/h' })).toBe('/h/.cache/rwkv-streams/cuda');
  });
});
