import koffi from 'koffi';
import { CudaDriverError } from './errors.js';
import { bindFunctions, CUDA_DRIVER, type LoadedLibrary, type NativeFn, sharedLibrary } from './libraries.js';

/** Opaque driver handles (koffi external pointers). */
export type CuHandle = unknown;
/** A device address. */
export type DevicePtr = bigint;

/** CUdevice_attribute values used here (cuda.h). */
export const CU_DEVICE_ATTRIBUTE = {
  MAX_THREADS_PER_BLOCK: 1,
  MULTIPROCESSOR_COUNT: 16,
  COMPUTE_CAPABILITY_MAJOR: 75,
  COMPUTE_CAPABILITY_MINOR: 76,
  L2_CACHE_SIZE: 38,
  MAX_PERSISTING_L2_CACHE_SIZE: 108,
} as const;

/** CUstream_flags: CU_STREAM_NON_BLOCKING. */
export const CU_STREAM_NON_BLOCKING = 1;
/** CUDA_ERROR_NOT_READY: queued work has not completed yet (cuStreamQuery, cuEventQuery). */
export const CUDA_ERROR_NOT_READY = 600;

/** One kernel argument, as the kernel's C parameter type. */
export type KernelArg =
  | { readonly ptr: DevicePtr }
  | { readonly i32: number }
  | { readonly u32: number }
  | { readonly f32: number }
  | { readonly i64: bigint }
  /** A struct passed by value: its bytes as the kernel's C struct lays them out. */
  | { readonly bytes: Uint8Array };

/** Encodes kernel arguments as one small buffer each (what `kernelParams` points at). */
export function encodeKernelArgs(args: readonly KernelArg[]): Buffer[] {
  return args.map((a) => {
    if ('bytes' in a) return Buffer.from(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength);
    if ('ptr' in a) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(a.ptr);
      return b;
    }
    if ('i64' in a) {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(a.i64);
      return b;
    }
    const b = Buffer.alloc(4);
    if ('i32' in a) b.writeInt32LE(a.i32);
    else if ('u32' in a) b.writeUInt32LE(a.u32);
    else b.writeFloatLE(a.f32);
    return b;
  });
}

/** The raw koffi bindings of the driver functions used (names as exported by libcuda). */
export interface CudaDriverApi {
  readonly library: LoadedLibrary;
  readonly fns: Readonly<Record<string, NativeFn>>;
}

const DECLARATIONS = [
  'int cuInit(unsigned int flags)',
  'int cuDriverGetVersion(_Out_ int *version)',
  'int cuDeviceGetCount(_Out_ int *count)',
  'int cuDeviceGet(_Out_ int *device, int ordinal)',
  'int cuDeviceGetName(void *name, int len, int dev)',
  'int cuDeviceGetAttribute(_Out_ int *pi, int attrib, int dev)',
  'int cuDeviceTotalMem_v2(_Out_ size_t *bytes, int dev)',
  'int cuDevicePrimaryCtxRetain(_Out_ CUcontext *pctx, int dev)',
  'int cuDevicePrimaryCtxRelease_v2(int dev)',
  'int cuCtxSetCurrent(CUcontext ctx)',
  'int cuCtxSynchronize()',
  'int cuCtxSetLimit(int limit, size_t value)',
  'int cuCtxResetPersistingL2Cache()',
  'int cuStreamSetAttribute(CUstream stream, int attr, const void *value)',
  'int cuMemGetInfo_v2(_Out_ size_t *free, _Out_ size_t *total)',
  'int cuMemAlloc_v2(_Out_ uint64_t *dptr, size_t bytesize)',
  'int cuMemFree_v2(uint64_t dptr)',
  'int cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int flags)',
  'int cuMemHostUnregister(void *p)',
  'int cuMemAllocAsync(_Out_ uint64_t *dptr, size_t bytesize, CUstream stream)',
  'int cuMemFreeAsync(uint64_t dptr, CUstream stream)',
  'int cuDeviceGetDefaultMemPool(_Out_ CUmemoryPool *pool, int dev)',
  'int cuMemPoolSetAttribute(CUmemoryPool pool, int attr, void *value)',
  'int cuMemsetD32_v2(uint64_t dst, unsigned int ui, size_t n)',
  'int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes)',
  'int cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes)',
  'int cuMemcpyHtoDAsync_v2(uint64_t dst, const void *src, size_t bytes, CUstream stream)',
  'int cuMemcpyDtoHAsync_v2(void *dst, uint64_t src, size_t bytes, CUstream stream)',
  'int cuStreamCreate(_Out_ CUstream *stream, unsigned int flags)',
  'int cuStreamSynchronize(CUstream stream)',
  'int cuStreamQuery(CUstream stream)',
  'int cuStreamDestroy_v2(CUstream stream)',
  'int cuModuleLoadData(_Out_ CUmodule *module, const void *image)',
  'int cuModuleUnload(CUmodule module)',
  'int cuModuleGetFunction(_Out_ CUfunction *fn, CUmodule module, const char *name)',
  'int cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int sharedMemBytes, CUstream stream, void **kernelParams, void **extra)',
  'int cuMemcpyDtoDAsync_v2(uint64_t dst, uint64_t src, size_t bytes, CUstream stream)',
  'int cuMemsetD32Async(uint64_t dst, unsigned int ui, size_t n, CUstream stream)',
  'int cuFuncSetAttribute(CUfunction f, int attrib, int value)',
  'int cuStreamBeginCapture_v2(CUstream stream, int mode)',
  'int cuStreamEndCapture(CUstream stream, _Out_ CUgraph *graph)',
  'int cuGraphInstantiateWithFlags(_Out_ CUgraphExec *exec, CUgraph graph, unsigned long long flags)',
  'int cuGraphLaunch(CUgraphExec exec, CUstream stream)',
  'int cuGraphExecDestroy(CUgraphExec exec)',
  'int cuGraphDestroy(CUgraph graph)',
  'int cuEventCreate(_Out_ CUevent *event, unsigned int flags)',
  'int cuEventRecord(CUevent event, CUstream stream)',
  'int cuStreamWaitEvent(CUstream stream, CUevent event, unsigned int flags)',
  'int cuEventSynchronize(CUevent event)',
  'int cuEventQuery(CUevent event)',
  'int cuEventElapsedTime(_Out_ float *ms, CUevent start, CUevent end)',
  'int cuEventDestroy_v2(CUevent event)',
  'int cuGetErrorName(int error, _Out_ const char **str)',
  'int cuGetErrorString(int error, _Out_ const char **str)',
];

let types: boolean | undefined;
/** Declares the driver's handle and struct types with koffi (once; needs no driver). */
export function declareTypes(): void {
  if (types) return;
  for (const t of [
    'CUcontext',
    'CUstream',
    'CUmodule',
    'CUfunction',
    'CUgraph',
    'CUgraphExec',
    'CUevent',
    'CUmemoryPool',
  ]) {
    koffi.pointer(t, koffi.opaque(`${t}_st`));
  }
  // cuLaunchKernelEx's config (cuda.h: seven unsigned ints, the stream at offset 32, the
  // attribute array at 40, its count at 48; 56 bytes)
  koffi.struct('CUlaunchConfig', {
    gridDimX: 'uint32',
    gridDimY: 'uint32',
    gridDimZ: 'uint32',
    blockDimX: 'uint32',
    blockDimY: 'uint32',
    blockDimZ: 'uint32',
    sharedMemBytes: 'uint32',
    hStream: 'CUstream',
    attrs: 'void *',
    numAttrs: 'uint32',
  });
  types = true;
}

/** CUlimit of the L2 set aside for persisting accesses (cuda.h). */
const CU_LIMIT_PERSISTING_L2_CACHE_SIZE = 0x06;
/** CUstreamAttrID of a stream's L2 access policy window (cuda.h). */
const CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW = 1;
/** CUaccessProperty values (cuda.h). */
const CU_ACCESS_PROPERTY_STREAMING = 1;
const CU_ACCESS_PROPERTY_PERSISTING = 2;

/** CUlaunchAttributeID of programmatic dependent launch (cuda.h). */
const CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
/** CUlaunchAttributeID of a launch's thread-block cluster shape (cuda.h). */
const CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION = 4;
/** CUfunction_attribute letting a kernel run clusters above the portable 8 blocks (cuda.h). */
const CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED = 14;
/** sizeof(CUlaunchAttribute): an 8-byte id and padding, then a 64-byte value union. */
const LAUNCH_ATTRIBUTE_BYTES = 72;

/** The bytes of one CUlaunchAttribute turning programmatic stream serialization on. */
export function programmaticLaunchAttribute(): Uint8Array {
  const bytes = new Uint8Array(LAUNCH_ATTRIBUTE_BYTES);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, true);
  view.setInt32(8, 1, true); // value.programmaticStreamSerializationAllowed
  return bytes;
}

/** The bytes of one CUlaunchAttribute giving the launch's cluster shape (value.clusterDim). */
export function clusterLaunchAttribute(dims: readonly [number, number?, number?]): Uint8Array {
  const bytes = new Uint8Array(LAUNCH_ATTRIBUTE_BYTES);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, true);
  view.setUint32(8, dims[0], true);
  view.setUint32(12, dims[1] ?? 1, true);
  view.setUint32(16, dims[2] ?? 1, true);
  return bytes;
}

let launchEx: NativeFn | null | undefined;

/** cuLaunchKernelEx, bound on first use; null when the driver lacks it (before CUDA 11.8). */
function launchExApi(): NativeFn | null {
  if (launchEx !== undefined) return launchEx;
  try {
    launchEx = cudaDriverApi().library.lib.func(
      'int cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra)',
    ) as unknown as NativeFn;
  } catch {
    launchEx = null;
  }
  return launchEx;
}

/** Native copies of attribute lists, one per distinct list (a plan launches the same few). */
const attributeLists = new Map<string, unknown>();

/** The launch attributes of `fn` under `cfg` as native memory, or null when there are none. */
function launchAttributes(fn: CudaFunction, cfg: LaunchConfig): { attrs: unknown; count: number } | null {
  if (!fn.gridDependency && !cfg.cluster) return null;
  // plans launch with programmatic dependence alone, hundreds of times a call: no key to build
  const key = cfg.cluster ? `${fn.gridDependency ? 1 : 0}:${cfg.cluster.join('x')}` : 'pdl';
  const known = attributeLists.get(key);
  if (known !== undefined)
    return { attrs: known, count: (fn.gridDependency ? 1 : 0) + (cfg.cluster ? 1 : 0) };
  const parts: Uint8Array[] = [];
  if (fn.gridDependency) parts.push(programmaticLaunchAttribute());
  if (cfg.cluster) parts.push(clusterLaunchAttribute(cfg.cluster));
  const size = parts.length * LAUNCH_ATTRIBUTE_BYTES;
  const attrs = koffi.alloc('uint8', size);
  koffi.encode(
    attrs,
    koffi.array('uint8', size),
    parts.flatMap((p) => Array.from(p)),
  );
  attributeLists.set(key, attrs);
  return { attrs, count: parts.length };
}

let api: CudaDriverApi | undefined;

/** Loads libcuda and declares its functions (once per process). */
export function cudaDriverApi(): CudaDriverApi {
  if (api) return api;
  const library = sharedLibrary(CUDA_DRIVER);
  declareTypes();
  const fns = bindFunctions(library, DECLARATIONS);
  api = { library, fns };
  return api;
}

/** Name and description of a CUresult (falls back to the number). */
export function cudaErrorText(
  fns: Readonly<Record<string, NativeFn>>,
  rc: number,
): { name: string; text: string } {
  const name: unknown[] = [null];
  const text: unknown[] = [null];
  try {
    fns['cuGetErrorName']!(rc, name);
    fns['cuGetErrorString']!(rc, text);
  } catch {
    // ignore: keep the number
  }
  return {
    name: typeof name[0] === 'string' ? name[0] : `CUresult ${rc}`,
    text: typeof text[0] === 'string' ? text[0] : 'unknown error',
  };
}

/**
 * Calls a driver function and throws `CudaDriverError` (naming the call and the CUDA error)
 * for a non-zero CUresult.
 */
export function cu(name: string, ...args: unknown[]): void {
  const { fns } = cudaDriverApi();
  const f = fns[name];
  if (!f) throw new Error(`driver function ${name} is not declared`);
  const rc = f(...args);
  if (rc !== 0) {
    const { name: en, text } = cudaErrorText(fns, rc);
    throw new CudaDriverError(name, rc, en, text);
  }
}

/** `cu` on a worker thread: resolves when the call returns 0, rejects with CudaDriverError. */
export function cuAsync(name: string, ...args: unknown[]): Promise<void> {
  const { fns } = cudaDriverApi();
  const f = fns[name] as unknown as { async?: (...a: unknown[]) => void } | undefined;
  if (!f?.async) return Promise.resolve(cu(name, ...args));
  return new Promise((resolve, reject) => {
    f.async!(...args, (err: unknown, rc: number) => {
      if (err) return reject(err);
      if (rc !== 0) {
        const { name: en, text } = cudaErrorText(fns, rc);
        return reject(new CudaDriverError(name, rc, en, text));
      }
      resolve();
    });
  });
}

function big(x: unknown): bigint {
  return typeof x === 'bigint' ? x : BigInt(x as number);
}

/** A loaded module's kernel. */
export interface CudaFunction {
  readonly name: string;
  readonly handle: CuHandle;
  /**
   * Launched as a programmatic dependent launch (kernels/grid-dependency.ts): its source
   * waits for the kernel before it with `griddepcontrol.wait`, so it may start early.
   */
  readonly gridDependency?: boolean;
}

/** Launch geometry. */
export interface LaunchConfig {
  readonly grid: readonly [number, number?, number?];
  readonly block: readonly [number, number?, number?];
  readonly sharedMemBytes?: number;
  readonly stream?: CudaStream | null;
  /**
   * Thread-block cluster shape (sm_90 and later): the grid is cut into clusters of this many
   * blocks, each cluster on one GPC, sharing distributed shared memory and a barrier.
   */
  readonly cluster?: readonly [number, number?, number?];
}

/** Asks `cuStreamQuery` or `cuEventQuery` whether the work before it has completed. */
function completed(fn: 'cuStreamQuery' | 'cuEventQuery', handle: CuHandle): boolean {
  const { fns } = cudaDriverApi();
  const rc = fns[fn]!(handle) as number;
  if (rc === 0) return true;
  if (rc === CUDA_ERROR_NOT_READY) return false;
  const { name, text } = cudaErrorText(fns, rc);
  throw new CudaDriverError(fn, rc, name, text);
}

/**
 * Polls `done` between turns of the event loop (`setImmediate`: other callbacks still run)
 * for up to `pollMicros`, then hands the wait to `block` (a worker thread's wait).
 */
export async function pollThenWait(
  done: () => boolean,
  pollMicros: number,
  block: () => Promise<void>,
): Promise<void> {
  if (pollMicros > 0) {
    const until = performance.now() + pollMicros / 1000;
    for (;;) {
      if (done()) return;
      if (performance.now() >= until) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return block();
}

/** A CUDA stream. */
export class CudaStream {
  private disposed = false;
  constructor(readonly handle: CuHandle) {}
  synchronize(): void {
    cu('cuStreamSynchronize', this.handle);
  }
  /**
   * Asks L2 to keep the bytes [base, base + bytes) of later kernels on this stream (the
   * context's persisting set-aside, `CudaContext.setPersistingL2`), a share `hitRatio` of
   * them when the window is larger than the set-aside; the rest stream through. bytes 0
   * clears the window.
   */
  setAccessPolicyWindow(base: DevicePtr, bytes: number, hitRatio = 1): void {
    // CUstreamAttrValue: CUaccessPolicyWindow (base_ptr, num_bytes, hitRatio, hitProp,
    // missProp) at the start of a 64-byte union
    const value = new Uint8Array(64);
    const view = new DataView(value.buffer);
    view.setBigUint64(0, bytes ? base : 0n, true);
    view.setBigUint64(8, BigInt(bytes), true);
    view.setFloat32(16, bytes ? hitRatio : 0, true);
    view.setInt32(20, bytes ? CU_ACCESS_PROPERTY_PERSISTING : 0, true);
    view.setInt32(24, bytes ? CU_ACCESS_PROPERTY_STREAMING : 0, true);
    cu('cuStreamSetAttribute', this.handle, CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, value);
  }
  /**
   * Waits for the stream on a worker thread (koffi's async call), so the event loop keeps
   * running while the GPU works.
   */
  synchronizeAsync(): Promise<void> {
    return cuAsync('cuStreamSynchronize', this.handle);
  }
  /** Whether every piece of work queued on the stream has completed (no wait). */
  query(): boolean {
    return completed('cuStreamQuery', this.handle);
  }
  /**
   * Waits for the stream without blocking the event loop. For up to `pollMicros` it asks
   * the driver between turns of the event loop (`setImmediate`: other callbacks still run);
   * past that, or with 0, the wait moves to a worker thread (`synchronizeAsync`). Polling
   * answers within microseconds of the GPU finishing, where the worker thread's answer
   * first has to wake the event loop: what a decode step of a millisecond or two wants,
   * while a long prefill is better waited for off the main thread.
   */
  idle(pollMicros: number): Promise<void> {
    return pollThenWait(
      () => this.query(),
      pollMicros,
      () => this.synchronizeAsync(),
    );
  }
  /**
   * Makes later work on this stream wait until `event`'s latest record has completed
   * (on the GPU; the host does not wait). Inside a capture this becomes a graph edge.
   */
  waitEvent(event: CudaEvent): void {
    cu('cuStreamWaitEvent', this.handle, event.handle, 0);
  }
  /** Starts recording the launches made on this stream into a graph (no work runs). */
  beginCapture(): void {
    cu('cuStreamBeginCapture_v2', this.handle, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
  }
  /** Ends recording and instantiates the graph; replay it with `CudaGraph.launch`. */
  endCapture(): CudaGraph {
    const graph: unknown[] = [null];
    cu('cuStreamEndCapture', this.handle, graph);
    const exec: unknown[] = [null];
    try {
      cu('cuGraphInstantiateWithFlags', exec, graph[0], 0);
    } finally {
      cu('cuGraphDestroy', graph[0]);
    }
    return new CudaGraph(exec[0]);
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    cu('cuStreamDestroy_v2', this.handle);
  }
}

/** CUmemPool_attribute: CU_MEMPOOL_ATTR_RELEASE_THRESHOLD (bytes a pool keeps when freed). */
export const CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4;

/** cuStreamCaptureMode: only this thread's unsafe calls are refused during capture. */
export const CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
/** CUfunction_attribute: CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES. */
export const CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

/** An instantiated CUDA graph: a recorded sequence of launches replayed as one. */
export class CudaGraph {
  private disposed = false;
  constructor(readonly handle: CuHandle) {}
  /** Replays the recorded work on `stream`. */
  launch(stream: CudaStream): void {
    cu('cuGraphLaunch', this.handle, stream.handle);
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    cu('cuGraphExecDestroy', this.handle);
  }
}

/** CUevent_flags: CU_EVENT_DISABLE_TIMING (an event only for ordering streams: cheaper). */
export const CU_EVENT_DISABLE_TIMING = 2;

/** A CUDA event: GPU-side timing, or ordering one stream's work after another's. */
export class CudaEvent {
  private disposed = false;
  private constructor(readonly handle: CuHandle) {}
  /** A timing event, or with `CU_EVENT_DISABLE_TIMING` one for ordering only. */
  static create(flags = 0): CudaEvent {
    const out: unknown[] = [null];
    cu('cuEventCreate', out, flags);
    return new CudaEvent(out[0]);
  }
  record(stream: CudaStream): void {
    cu('cuEventRecord', this.handle, stream.handle);
  }
  synchronize(): void {
    cu('cuEventSynchronize', this.handle);
  }
  /** Whether the work before the event's latest record has completed (no wait). */
  query(): boolean {
    return completed('cuEventQuery', this.handle);
  }
  /**
   * Waits for the event without blocking the event loop, as `CudaStream.idle` waits for a
   * stream: polling between turns of the event loop for up to `pollMicros`, then on a
   * worker thread.
   */
  done(pollMicros: number): Promise<void> {
    return pollThenWait(
      () => this.query(),
      pollMicros,
      () => cuAsync('cuEventSynchronize', this.handle),
    );
  }
  /** Milliseconds from `start` to this event (both recorded and complete). */
  elapsedSince(start: CudaEvent): number {
    const out: unknown[] = [0];
    cu('cuEventElapsedTime', out, start.handle, this.handle);
    return out[0] as number;
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    cu('cuEventDestroy_v2', this.handle);
  }
}

/** A module loaded from a cubin image. */
export class CudaModule {
  private readonly functions = new Map<string, CudaFunction>();
  private disposed = false;
  constructor(readonly handle: CuHandle) {}
  getFunction(name: string): CudaFunction {
    let f = this.functions.get(name);
    if (!f) {
      const out: unknown[] = [null];
      cu('cuModuleGetFunction', out, this.handle, name);
      f = { name, handle: out[0] };
      this.functions.set(name, f);
    }
    return f;
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    cu('cuModuleUnload', this.handle);
  }
}

/**
 * A device with its primary context made current on this thread. All allocation,
 * copies and launches go through it.
 */
export class CudaContext {
  private released = false;

  private constructor(
    readonly ordinal: number,
    readonly device: number,
    readonly handle: CuHandle,
    readonly name: string,
    readonly computeCapability: { readonly major: number; readonly minor: number },
  ) {}

  /** Initializes the driver and retains device `ordinal`'s primary context. */
  static create(ordinal = 0): CudaContext {
    cu('cuInit', 0);
    const dev: unknown[] = [0];
    cu('cuDeviceGet', dev, ordinal);
    const device = dev[0] as number;
    const nameBuf = Buffer.alloc(256);
    cu('cuDeviceGetName', nameBuf, nameBuf.length, device);
    const end = nameBuf.indexOf(0);
    const name = nameBuf.toString('utf8', 0, end < 0 ? nameBuf.length : end);
    const attr = (a: number) => {
      const out: unknown[] = [0];
      cu('cuDeviceGetAttribute', out, a, device);
      return out[0] as number;
    };
    const cc = {
      major: attr(CU_DEVICE_ATTRIBUTE.COMPUTE_CAPABILITY_MAJOR),
      minor: attr(CU_DEVICE_ATTRIBUTE.COMPUTE_CAPABILITY_MINOR),
    };
    const ctx: unknown[] = [null];
    cu('cuDevicePrimaryCtxRetain', ctx, device);
    cu('cuCtxSetCurrent', ctx[0]);
    // Stream-ordered allocations (`allocAsync`) come from the device's default pool; by
    // default the pool gives freed memory back to the driver at every synchronization, which
    // makes each allocation a fresh one again: keep it instead (the pool then works as a
    // cache, as PyTorch's allocator does; the memory is the driver's again when the context
    // is released).
    const pool: unknown[] = [null];
    cu('cuDeviceGetDefaultMemPool', pool, device);
    const keepAll = Buffer.alloc(8);
    keepAll.writeBigUInt64LE(0xffffffffffffffffn);
    cu('cuMemPoolSetAttribute', pool[0], CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, keepAll);
    return new CudaContext(ordinal, device, ctx[0], name, cc);
  }

  /** Number of CUDA devices (initializes the driver). */
  static deviceCount(): number {
    cu('cuInit', 0);
    const out: unknown[] = [0];
    cu('cuDeviceGetCount', out);
    return out[0] as number;
  }

  /** The NVRTC/ptxas architecture name, e.g. 'sm_90'. */
  get arch(): string {
    return `sm_${this.computeCapability.major}${this.computeCapability.minor}`;
  }

  /** Makes this context current on the calling thread. */
  makeCurrent(): void {
    cu('cuCtxSetCurrent', this.handle);
  }

  attribute(attr: number): number {
    const out: unknown[] = [0];
    cu('cuDeviceGetAttribute', out, attr, this.device);
    return out[0] as number;
  }

  /**
   * Sets aside `bytes` of L2 for persisting accesses (at most the device's
   * CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE; 0 gives it back) and empties what
   * persisted before. Streams choose what persists with `CudaStream.setAccessPolicyWindow`.
   */
  setPersistingL2(bytes: number): void {
    cu('cuCtxResetPersistingL2Cache');
    cu('cuCtxSetLimit', CU_LIMIT_PERSISTING_L2_CACHE_SIZE, bytes);
  }

  memInfo(): { free: number; total: number } {
    const f: unknown[] = [0];
    const t: unknown[] = [0];
    cu('cuMemGetInfo_v2', f, t);
    return { free: Number(f[0]), total: Number(t[0]) };
  }

  /** Bytes this process holds through `malloc` and has not freed (leak checks). */
  get liveBytes(): number {
    let n = 0;
    for (const b of this.live.values()) n += b;
    return n;
  }

  private readonly live = new Map<DevicePtr, number>();

  malloc(bytes: number): DevicePtr {
    const out: unknown[] = [0];
    cu('cuMemAlloc_v2', out, bytes);
    const ptr = big(out[0]);
    this.live.set(ptr, bytes);
    return ptr;
  }

  free(ptr: DevicePtr): void {
    cu('cuMemFree_v2', ptr);
    this.live.delete(ptr);
  }

  /**
   * Stream-ordered allocation from the device's memory pool: usable by work enqueued on
   * `stream` after this call, and cheap when the pool holds freed memory of that size
   * (no driver allocation, no synchronization). For what comes and goes often (sessions).
   */
  allocAsync(bytes: number, stream: CudaStream): DevicePtr {
    const out: unknown[] = [0];
    cu('cuMemAllocAsync', out, bytes, stream.handle);
    const ptr = big(out[0]);
    this.live.set(ptr, bytes);
    return ptr;
  }

  /**
   * Returns an `allocAsync` allocation to the pool once the work enqueued on `stream` so far
   * has run (no synchronization: unlike `free`, the host does not wait for the GPU).
   */
  freeAsync(ptr: DevicePtr, stream: CudaStream): void {
    cu('cuMemFreeAsync', ptr, stream.handle);
    this.live.delete(ptr);
  }

  memsetD32(ptr: DevicePtr, value: number, count: number): void {
    cu('cuMemsetD32_v2', ptr, value >>> 0, count);
  }

  /**
   * Page-locks a host array (cuMemHostRegister) so that copies into it run at the link's
   * full speed and asynchronously (a pageable copy is staged through a driver buffer and
   * blocks). The array must stay alive, and its memory in place, until `unregisterHost`:
   * the caller holds a reference. Returns whether it is now registered (false when the
   * driver refuses, e.g. too much locked memory: copies then stay pageable).
   */
  registerHost(array: ArrayBufferView): boolean {
    const { fns } = cudaDriverApi();
    if (fns['cuMemHostRegister_v2']!(array, array.byteLength, 0) !== 0) return false;
    this.registered.set(array, array.byteLength);
    return true;
  }

  /** Undoes `registerHost`. */
  unregisterHost(array: ArrayBufferView): void {
    if (!this.registered.delete(array)) return;
    cu('cuMemHostUnregister', array);
  }

  /** Bytes of host memory registered through `registerHost` and not yet unregistered. */
  get registeredHostBytes(): number {
    let n = 0;
    for (const b of this.registered.values()) n += b;
    return n;
  }

  private readonly registered = new Map<ArrayBufferView, number>();

  /** Host -> device. With a stream, asynchronous (keep `src` alive until it is synchronized). */
  copyToDevice(dst: DevicePtr, src: ArrayBufferView, stream?: CudaStream | null): void {
    if (stream) cu('cuMemcpyHtoDAsync_v2', dst, src, src.byteLength, stream.handle);
    else cu('cuMemcpyHtoD_v2', dst, src, src.byteLength);
  }

  /**
   * Device -> host. With a stream, asynchronous only when `dst` is registered
   * (`registerHost`): synchronize before reading it. Into pageable memory the driver
   * returns once the copy is done.
   */
  copyToHost(dst: ArrayBufferView, src: DevicePtr, stream?: CudaStream | null): void {
    if (stream) cu('cuMemcpyDtoHAsync_v2', dst, src, dst.byteLength, stream.handle);
    else cu('cuMemcpyDtoH_v2', dst, src, dst.byteLength);
  }

  createStream(flags = CU_STREAM_NON_BLOCKING): CudaStream {
    const out: unknown[] = [null];
    cu('cuStreamCreate', out, flags);
    return new CudaStream(out[0]);
  }

  loadModule(image: Uint8Array): CudaModule {
    const out: unknown[] = [null];
    cu('cuModuleLoadData', out, image);
    return new CudaModule(out[0]);
  }

  /** Device -> device on a stream. */
  copyDeviceAsync(dst: DevicePtr, src: DevicePtr, bytes: number, stream: CudaStream): void {
    if (bytes > 0) cu('cuMemcpyDtoDAsync_v2', dst, src, bytes, stream.handle);
  }

  /** Fills `count` 32-bit words with `value` on a stream. */
  memsetD32Async(ptr: DevicePtr, value: number, count: number, stream: CudaStream): void {
    if (count > 0) cu('cuMemsetD32Async', ptr, value >>> 0, count, stream.handle);
  }

  /** Lets `fn` use up to `bytes` of dynamic shared memory (needed above 48 KiB). */
  setMaxDynamicSharedMemory(fn: CudaFunction, bytes: number): void {
    cu('cuFuncSetAttribute', fn.handle, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
  }

  /**
   * Lets `fn` run clusters of more than 8 blocks (up to 16 on an H100): cluster shapes above
   * the portable size must be allowed per function before the launch.
   */
  allowNonPortableClusters(fn: CudaFunction): void {
    cu('cuFuncSetAttribute', fn.handle, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1);
  }

  launch(fn: CudaFunction, cfg: LaunchConfig, args: readonly KernelArg[]): void {
    this.launchEncoded(fn, cfg, encodeKernelArgs(args));
  }

  /** `launch` with arguments already encoded (plans encode once and launch many times). */
  launchEncoded(fn: CudaFunction, cfg: LaunchConfig, params: readonly Buffer[]): void {
    const [gx, gy = 1, gz = 1] = cfg.grid;
    const [bx, by = 1, bz = 1] = cfg.block;
    const extra = launchAttributes(fn, cfg);
    if (extra) {
      const fnEx = launchExApi();
      if (!fnEx)
        throw new CudaDriverError(
          'cuLaunchKernelEx',
          500,
          'CUDA_ERROR_NOT_FOUND',
          'the driver has no cuLaunchKernelEx (programmatic dependent launch and clusters need it)',
        );
      const config = {
        gridDimX: gx,
        gridDimY: gy,
        gridDimZ: gz,
        blockDimX: bx,
        blockDimY: by,
        blockDimZ: bz,
        sharedMemBytes: cfg.sharedMemBytes ?? 0,
        hStream: cfg.stream?.handle ?? null,
        attrs: extra.attrs,
        numAttrs: extra.count,
      };
      const rc = fnEx(config, fn.handle, params, null) as number;
      if (rc !== 0) {
        const { name, text } = cudaErrorText(cudaDriverApi().fns, rc);
        throw new CudaDriverError('cuLaunchKernelEx', rc, name, text);
      }
      return;
    }
    cu(
      'cuLaunchKernel',
      fn.handle,
      gx,
      gy,
      gz,
      bx,
      by,
      bz,
      cfg.sharedMemBytes ?? 0,
      cfg.stream?.handle ?? null,
      params,
      null,
    );
  }

  synchronize(): void {
    cu('cuCtxSynchronize');
  }

  /** Releases the primary context (device memory still allocated in it is freed by the driver). */
  dispose(): void {
    if (this.released) return;
    this.released = true;
    cu('cuDevicePrimaryCtxRelease_v2', this.device);
  }
}
