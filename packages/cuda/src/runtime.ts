import { BadInputError } from '@rwkv-streams/core';
import { CUBLAS_WORKSPACE_BYTES, Cublas } from './driver/cublas.js';
import {
  CudaContext,
  type CudaFunction,
  type CudaModule,
  type CudaStream,
  type DevicePtr,
} from './driver/cuda-driver.js';
import { type CompiledImage, compileCuda, KernelCache } from './driver/nvrtc.js';
import { supportsGridDependency, withGridDependency } from './kernels/grid-dependency.js';

/**
 * Where a plan's step is enqueued: a stream and the cuBLAS handle bound to it. Lane 0 is
 * the runtime's own stream; a plan may spread independent steps over more lanes
 * (exec/lanes.ts), which fork from and join back into lane 0.
 */
export interface Lane {
  readonly stream: CudaStream;
  readonly blas: Cublas;
}

/** Options of a runtime. */
export interface CudaRuntimeOptions {
  /** Device ordinal (default 0). */
  readonly device?: number;
  /** Kernel cache folder; null disables the on-disk cache (default: defaultCacheDir()). */
  readonly cacheDir?: string | null;
  /** Extra NVRTC options for every kernel. */
  readonly nvrtcOptions?: readonly string[];
  /** See `CudaRuntime.pollMicros` (default: RWKV_STREAMS_CUDA_POLL_US, else 4000). */
  readonly pollMicros?: number;
}

/** The default of `CudaRuntime.pollMicros`: RWKV_STREAMS_CUDA_POLL_US when set, else 4000. */
export function defaultPollMicros(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['RWKV_STREAMS_CUDA_POLL_US'];
  if (raw === undefined || raw === '') return 4000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0)
    throw new BadInputError(`RWKV_STREAMS_CUDA_POLL_US must be microseconds >= 0, got '${raw}'`, {
      field: 'RWKV_STREAMS_CUDA_POLL_US',
    });
  return n;
}

/**
 * One device's context, stream, cuBLAS handle and compiled kernels.
 * Kernels are compiled once per source (NVRTC, through the on-disk cache) and loaded
 * once. Work from every model on the device is serialized on the one stream (`exclusive`).
 */
export class CudaRuntime {
  private readonly modules = new Map<string, CudaModule>();
  /** How each kernel source was obtained, in order (compile times, cache hits). */
  readonly compilations: { name: string; image: CompiledImage }[] = [];
  private disposed = false;
  private cublas: Cublas | undefined;
  private workspace: DevicePtr | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Lane 0: the stream, and cuBLAS created on first use (a plan without GEMMs needs none). */
  private readonly mainLane: Lane = (() => {
    const rt = this;
    return {
      get stream() {
        return rt.stream;
      },
      get blas() {
        return rt.blas;
      },
    };
  })();
  /**
   * How long a call waiting for its results polls the stream between turns of the event
   * loop before it hands the wait to a worker thread (`CudaStream.idle`), in microseconds.
   * A decode step's wait is a millisecond or two; polling ends it as soon as the GPU is
   * done instead of a thread wake-up later. 0 always waits on a worker thread.
   */
  pollMicros: number;
  /** Lanes 1.. (lane 0 is `stream` + `blas`), each with its own cuBLAS workspace. */
  private readonly sideLanes: { lane: Lane; workspace: DevicePtr }[] = [];

  private constructor(
    readonly ctx: CudaContext,
    readonly stream: CudaStream,
    private readonly cache: KernelCache | null,
    private readonly extraOptions: readonly string[],
    pollMicros: number,
  ) {
    this.pollMicros = pollMicros;
  }

  static create(options: CudaRuntimeOptions = {}): CudaRuntime {
    const poll = options.pollMicros ?? defaultPollMicros();
    if (!Number.isFinite(poll) || poll < 0)
      throw new BadInputError(`pollMicros must be microseconds >= 0, got ${poll}`, { field: 'pollMicros' });
    const ctx = CudaContext.create(options.device ?? 0);
    let cache: KernelCache | null = null;
    if (options.cacheDir !== null)
      cache = options.cacheDir ? new KernelCache(options.cacheDir) : new KernelCache();
    return new CudaRuntime(ctx, ctx.createStream(), cache, options.nvrtcOptions ?? [], poll);
  }

  /**
   * The kernel `name` of `source`, compiled for this device. With `gridDependency` (on
   * sm_90 and later; ignored before), the source is first made safe for programmatic
   * dependent launch (kernels/grid-dependency.ts) and the function is launched that way.
   */
  kernel(source: string, name: string, gridDependency = false): CudaFunction {
    if (gridDependency && supportsGridDependency(this.ctx.arch)) {
      const fn = this.kernel(withGridDependency(source), name);
      return { ...fn, gridDependency: true };
    }
    let mod = this.modules.get(source);
    if (!mod) {
      const image = compileCuda(source, {
        arch: this.ctx.arch,
        options: this.extraOptions,
        name: `${name}.cu`,
        cache: this.cache,
      });
      this.compilations.push({ name, image });
      mod = this.ctx.loadModule(image.cubin);
      this.modules.set(source, mod);
    }
    return mod.getFunction(name);
  }

  /** The cuBLAS handle on this runtime's stream (created on first use). */
  get blas(): Cublas {
    if (!this.cublas) {
      this.workspace = this.ctx.malloc(CUBLAS_WORKSPACE_BYTES);
      this.cublas = Cublas.create(this.stream, this.workspace, CUBLAS_WORKSPACE_BYTES);
    }
    return this.cublas;
  }

  /**
   * Lane `i`: 0 is this runtime's stream and cuBLAS handle; the others are created on
   * first use, each a stream with its own cuBLAS handle and workspace (GEMMs running at
   * the same time must not share a workspace).
   */
  lane(i: number): Lane {
    if (i === 0) return this.mainLane;
    while (this.sideLanes.length < i) {
      const stream = this.ctx.createStream();
      const workspace = this.ctx.malloc(CUBLAS_WORKSPACE_BYTES);
      const blas = Cublas.create(stream, workspace, CUBLAS_WORKSPACE_BYTES);
      this.sideLanes.push({ lane: { stream, blas }, workspace });
    }
    return this.sideLanes[i - 1]!.lane;
  }

  /** Runs `work` after every earlier exclusive work finished (one user of the stream at a time). */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  synchronize(): void {
    this.stream.synchronize();
  }

  /** Frees cuBLAS and its workspace, unloads modules, destroys the stream, releases the context. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stream.synchronize();
    for (const { lane, workspace } of this.sideLanes) {
      lane.stream.synchronize();
      lane.blas.dispose();
      this.ctx.free(workspace);
      lane.stream.dispose();
    }
    this.cublas?.dispose();
    if (this.workspace !== undefined) this.ctx.free(this.workspace);
    for (const m of this.modules.values()) m.dispose();
    this.modules.clear();
    this.stream.dispose();
    this.ctx.dispose();
  }
}

const shared = new Map<number, CudaRuntime>();

/** The process-wide runtime of device `ordinal` (created on first use). */
export function sharedRuntime(ordinal = 0): CudaRuntime {
  let rt = shared.get(ordinal);
  if (!rt) {
    rt = CudaRuntime.create({ device: ordinal });
    shared.set(ordinal, rt);
  }
  return rt;
}
