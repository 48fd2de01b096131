import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BackendUnavailableError } from '@rwkv-streams/core';
import koffi, { type LibraryHandle } from 'koffi';

/** A native library: what it is called, and the file names it may have (preferred first). */
export interface LibrarySpec {
  /** Human name used in errors, e.g. 'the CUDA driver'. */
  readonly what: string;
  /** Shared-object names, newest first (e.g. libnvrtc.so.13, libnvrtc.so.12). */
  readonly sonames: readonly string[];
  /** What to install when the library is missing. */
  readonly hint: string;
}

export const CUDA_DRIVER: LibrarySpec = {
  what: 'the CUDA driver (libcuda)',
  sonames: ['libcuda.so.1', 'libcuda.so'],
  hint: 'Install the NVIDIA driver (it provides libcuda.so.1); a machine without an NVIDIA GPU cannot use the CUDA backend.',
};

export const NVRTC: LibrarySpec = {
  what: 'NVRTC (libnvrtc)',
  sonames: ['libnvrtc.so.13', 'libnvrtc.so.12'],
  hint: 'Install the CUDA toolkit 12 or 13 (or the nvidia-cuda-nvrtc wheel) and set CUDA_PATH or LD_LIBRARY_PATH to its lib64 folder.',
};

export const CUBLAS: LibrarySpec = {
  what: 'cuBLAS (libcublas)',
  sonames: ['libcublas.so.13', 'libcublas.so.12'],
  hint: 'Install the CUDA toolkit 12 or 13 (or the nvidia-cublas wheel) and set CUDA_PATH or LD_LIBRARY_PATH to its lib64 folder.',
};

/** Where to look, as inputs, so that tests can give their own. */
export interface SearchContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Lists a directory's entries (empty when it does not exist). */
  readonly listDir: (dir: string) => readonly string[];
  /** Whether a file exists. */
  readonly exists: (path: string) => boolean;
  /** Opens a library by path or bare name (the system loader); throws on failure. */
  readonly open: (pathOrName: string) => LibraryHandle;
}

export const defaultSearchContext: SearchContext = {
  env: process.env,
  listDir: (dir) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
  exists: existsSync,
  open: (p) => koffi.load(p),
};

/** Orders `cuda-X.Y` folder names newest first (13.0 before 12.8 before 12.10? no: by number). */
export function sortCudaVersionDirs(names: readonly string[]): string[] {
  const parsed = names
    .map((n) => ({ n, m: /^cuda-(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(n) }))
    .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null)
    .map(({ n, m }) => ({ n, v: [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] as const }));
  parsed.sort((a, b) => b.v[0] - a.v[0] || b.v[1] - a.v[1] || b.v[2] - a.v[2]);
  return parsed.map((p) => p.n);
}

/**
 * The directories searched, in order: RWKV_STREAMS_CUDA_LIB_DIR, CUDA_PATH/lib64,
 * CUDA_HOME/lib64, each LD_LIBRARY_PATH entry, /usr/local/cuda/lib64,
 * /usr/local/cuda-X.Y/lib64 (newest first), /usr/lib/x86_64-linux-gnu. (After these,
 * the system loader is asked for the bare name.)
 */
export function librarySearchDirs(
  ctx: Pick<SearchContext, 'env' | 'listDir'> = defaultSearchContext,
): string[] {
  const dirs: string[] = [];
  const { env } = ctx;
  for (const d of (env['RWKV_STREAMS_CUDA_LIB_DIR'] ?? '').split(':')) if (d) dirs.push(d);
  if (env['CUDA_PATH']) dirs.push(join(env['CUDA_PATH'], 'lib64'));
  if (env['CUDA_HOME']) dirs.push(join(env['CUDA_HOME'], 'lib64'));
  for (const d of (env['LD_LIBRARY_PATH'] ?? '').split(':')) if (d) dirs.push(d);
  dirs.push('/usr/local/cuda/lib64');
  for (const n of sortCudaVersionDirs(ctx.listDir('/usr/local'))) dirs.push(join('/usr/local', n, 'lib64'));
  dirs.push('/usr/lib/x86_64-linux-gnu');
  return [...new Set(dirs)];
}

/** A loaded library and where it came from. */
export interface LoadedLibrary {
  readonly lib: LibraryHandle;
  /** The file opened, or the bare name the system loader resolved. */
  readonly path: string;
}

/**
 * Finds and opens a library: each search directory in order (each soname in it, newest
 * first), then the system loader with each bare soname. Throws `BackendUnavailableError`
 * naming the library and every place it looked when none opens.
 */
export function loadLibrary(spec: LibrarySpec, ctx: SearchContext = defaultSearchContext): LoadedLibrary {
  const looked: string[] = [];
  const failures: string[] = [];
  for (const dir of librarySearchDirs(ctx)) {
    looked.push(dir);
    for (const soname of spec.sonames) {
      const path = join(dir, soname);
      if (!ctx.exists(path)) continue;
      try {
        return { lib: ctx.open(path), path };
      } catch (e) {
        failures.push(`${path}: ${(e as Error).message}`);
      }
    }
  }
  for (const soname of spec.sonames) {
    looked.push(`the system loader (dlopen '${soname}')`);
    try {
      return { lib: ctx.open(soname), path: soname };
    } catch (e) {
      failures.push(`dlopen '${soname}': ${(e as Error).message}`);
    }
  }
  const failed = failures.length > 0 ? ` Errors: ${failures.join('; ')}.` : '';
  throw new BackendUnavailableError(
    `cannot load ${spec.what}: none of ${spec.sonames.join(', ')} was found. Looked in: ${looked.join(', ')}.${failed} ${spec.hint}`,
    { field: spec.sonames[0] },
  );
}

const cache = new Map<LibrarySpec, LoadedLibrary>();

/** `loadLibrary` with the default search, once per library per process. */
export function sharedLibrary(spec: LibrarySpec): LoadedLibrary {
  let l = cache.get(spec);
  if (!l) {
    l = loadLibrary(spec);
    cache.set(spec, l);
  }
  return l;
}

/** The default on-disk cache folder for compiled kernels. */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env['RWKV_STREAMS_CUDA_CACHE']) return env['RWKV_STREAMS_CUDA_CACHE'];
  const base = env['XDG_CACHE_HOME'] || join(env['HOME'] || homedir(), '.cache');
  return join(base, 'rwkv-streams', 'cuda');
}

/** A native function as bound by koffi: C arguments in, the C return value out. */
export type NativeFn = (...args: unknown[]) => number;

/** Binds each C declaration (koffi's prototype syntax) of `library`, by function name. */
export function bindFunctions(
  library: LoadedLibrary,
  declarations: readonly string[],
): Record<string, NativeFn> {
  const fns: Record<string, NativeFn> = {};
  for (const d of declarations) {
    const f = library.lib.func(d);
    fns[f.info.name] = f as unknown as NativeFn;
  }
  return fns;
}
