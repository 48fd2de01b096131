import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { NvrtcError } from './errors.js';
import {
  bindFunctions,
  defaultCacheDir,
  type LoadedLibrary,
  type NativeFn,
  NVRTC,
  sharedLibrary,
} from './libraries.js';

const DECLARATIONS = [
  'int nvrtcVersion(_Out_ int *major, _Out_ int *minor)',
  'int nvrtcCreateProgram(_Out_ nvrtcProgram *prog, const char *src, const char *name, int numHeaders, const char **headers, const char **includeNames)',
  'int nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char **options)',
  'int nvrtcGetProgramLogSize(nvrtcProgram prog, _Out_ size_t *size)',
  'int nvrtcGetProgramLog(nvrtcProgram prog, void *log)',
  'int nvrtcGetCUBINSize(nvrtcProgram prog, _Out_ size_t *size)',
  'int nvrtcGetCUBIN(nvrtcProgram prog, void *cubin)',
  'int nvrtcDestroyProgram(_Inout_ nvrtcProgram *prog)',
  'const char *nvrtcGetErrorString(int result)',
];

interface NvrtcApi {
  readonly library: LoadedLibrary;
  readonly fns: Readonly<Record<string, NativeFn>>;
  readonly version: string;
}

let api: NvrtcApi | undefined;

function nvrtcApi(): NvrtcApi {
  if (api) return api;
  const library = sharedLibrary(NVRTC);
  koffi.pointer('nvrtcProgram', koffi.opaque('nvrtcProgram_st'));
  const fns = bindFunctions(library, DECLARATIONS);
  const major: unknown[] = [0];
  const minor: unknown[] = [0];
  const rc = fns['nvrtcVersion']!(major, minor);
  if (rc !== 0) throw new NvrtcError('nvrtcVersion', rc, errorString(fns, rc));
  api = { library, fns, version: `${major[0]}.${minor[0]}` };
  return api;
}

function errorString(fns: Readonly<Record<string, NativeFn>>, rc: number): string {
  try {
    const s = fns['nvrtcGetErrorString']!(rc) as unknown;
    return typeof s === 'string' ? s : `nvrtcResult ${rc}`;
  } catch {
    return `nvrtcResult ${rc}`;
  }
}

/** The loaded NVRTC's version, e.g. '13.0'. */
export function nvrtcVersion(): string {
  return nvrtcApi().version;
}

/** What determines a compiled image: the cache key's inputs. */
export interface CompileKey {
  readonly source: string;
  readonly options: readonly string[];
  readonly arch: string;
  readonly nvrtcVersion: string;
}

/** sha256 (hex) of the source, options, architecture and NVRTC version. */
export function kernelCacheKey(k: CompileKey): string {
  const h = createHash('sha256');
  // Length-prefixed fields: no two different keys serialize the same.
  for (const part of [k.source, k.arch, k.nvrtcVersion, ...k.options]) {
    h.update(`${Buffer.byteLength(part)}:`);
    h.update(part);
  }
  h.update(`#${k.options.length}`);
  return h.digest('hex');
}

/** An on-disk cache of compiled images, one file per key. Failures to write are ignored. */
export class KernelCache {
  constructor(readonly dir: string = defaultCacheDir()) {}

  pathFor(key: string): string {
    return join(this.dir, `${key}.cubin`);
  }

  get(key: string): Uint8Array | undefined {
    try {
      return new Uint8Array(readFileSync(this.pathFor(key)));
    } catch {
      return undefined;
    }
  }

  put(key: string, image: Uint8Array): void {
    try {
      mkdirSync(this.dir, { recursive: true });
      const tmp = `${this.pathFor(key)}.${process.pid}.${Date.now()}.tmp`;
      writeFileSync(tmp, image);
      renameSync(tmp, this.pathFor(key));
    } catch {
      // A read-only or full cache only costs a recompilation.
    }
  }
}

/** Options of one compilation. */
export interface CompileOptions {
  /** Target architecture, e.g. 'sm_90'. */
  readonly arch: string;
  /** Extra NVRTC options (e.g. '--use_fast_math'). */
  readonly options?: readonly string[];
  /** Program name used in logs. */
  readonly name?: string;
  /** The cache; null disables caching. */
  readonly cache?: KernelCache | null;
}

/** A compiled image and how it was obtained. */
export interface CompiledImage {
  readonly cubin: Uint8Array;
  readonly key: string;
  readonly fromCache: boolean;
  readonly milliseconds: number;
}

/** The options passed to NVRTC for `arch` and the caller's extras. */
export function nvrtcOptions(arch: string, extra: readonly string[] = []): string[] {
  return [`--gpu-architecture=${arch}`, '--std=c++17', ...extra];
}

/**
 * Compiles CUDA C source to a cubin for `arch` with NVRTC, through the on-disk cache.
 * A failed compilation throws `NvrtcError` carrying the compiler log.
 */
export function compileCuda(source: string, opts: CompileOptions): CompiledImage {
  const t0 = performance.now();
  const { fns, version } = nvrtcApi();
  const options = nvrtcOptions(opts.arch, opts.options);
  const key = kernelCacheKey({ source, options, arch: opts.arch, nvrtcVersion: version });
  const cache = opts.cache === undefined ? new KernelCache() : opts.cache;
  const hit = cache?.get(key);
  if (hit) return { cubin: hit, key, fromCache: true, milliseconds: performance.now() - t0 };
  const name = opts.name ?? 'kernel.cu';
  const check = (call: string, rc: number, log = '') => {
    if (rc !== 0) throw new NvrtcError(call, rc, errorString(fns, rc), log, name);
  };
  const prog: unknown[] = [null];
  check('nvrtcCreateProgram', fns['nvrtcCreateProgram']!(prog, source, name, 0, null, null));
  try {
    const rc = fns['nvrtcCompileProgram']!(prog[0], options.length, options);
    if (rc !== 0) {
      const size: unknown[] = [0];
      let log = '';
      if (fns['nvrtcGetProgramLogSize']!(prog[0], size) === 0) {
        const buf = Buffer.alloc(Number(size[0]));
        if (fns['nvrtcGetProgramLog']!(prog[0], buf) === 0) log = buf.toString('utf8').replace(/\0+$/, '');
      }
      check('nvrtcCompileProgram', rc, log);
    }
    const size: unknown[] = [0];
    check('nvrtcGetCUBINSize', fns['nvrtcGetCUBINSize']!(prog[0], size));
    const cubin = new Uint8Array(Number(size[0]));
    check('nvrtcGetCUBIN', fns['nvrtcGetCUBIN']!(prog[0], cubin));
    cache?.put(key, cubin);
    return { cubin, key, fromCache: false, milliseconds: performance.now() - t0 };
  } finally {
    fns['nvrtcDestroyProgram']!(prog);
  }
}
