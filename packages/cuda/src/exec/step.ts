import type { CudaContext, CudaFunction, KernelArg, LaunchConfig } from '../driver/cuda-driver.js';
import { encodeKernelArgs } from '../driver/cuda-driver.js';
import type { CudaRuntime, Lane } from '../runtime.js';

/**
 * What lowering needs of a runtime: its context, and kernels compiled for it. A plan with
 * programmatic dependent launch lowers through `gridDependentKernels(rt)`.
 */
export interface KernelHost {
  readonly ctx: CudaContext;
  kernel(source: string, name: string): CudaFunction;
}

/** `rt`, with every kernel compiled and launched for programmatic dependent launch. */
export function gridDependentKernels(rt: CudaRuntime): KernelHost {
  return { ctx: rt.ctx, kernel: (source, name) => rt.kernel(source, name, true) };
}

/**
 * One unit of work in an execution plan: a kernel launch, a GEMM or a copy, with every
 * pointer and size fixed when the plan is built. `enqueue` only puts it on a lane's
 * stream, so a plan can be replayed eagerly or recorded once into a CUDA graph, on one
 * lane or spread over several (exec/lanes.ts).
 */
export interface Step {
  /** What the step computes, for profiles and errors (e.g. 'Wkv7 blocks.3.att'). */
  readonly label: string;
  enqueue(lane: Lane): void;
}

/**
 * A kernel launch step: resolves the function (compiling its source through the
 * runtime's cache) and encodes the arguments once.
 */
export function kernelStep(
  rt: KernelHost,
  label: string,
  kernel: { readonly source: string; readonly name: string },
  cfg: Omit<LaunchConfig, 'stream'>,
  args: readonly KernelArg[],
): Step {
  const fn: CudaFunction = rt.kernel(kernel.source, kernel.name);
  if ((cfg.sharedMemBytes ?? 0) > 48 * 1024) rt.ctx.setMaxDynamicSharedMemory(fn, cfg.sharedMemBytes!);
  const params = encodeKernelArgs(args);
  // One launch config per stream the step has been enqueued on (a plan uses a few lanes).
  const launches = new Map<Lane['stream'], LaunchConfig>();
  return {
    label,
    enqueue: (lane) => {
      let launch = launches.get(lane.stream);
      if (!launch) {
        launch = { ...cfg, stream: lane.stream };
        launches.set(lane.stream, launch);
      }
      rt.ctx.launchEncoded(fn, launch, params);
    },
  };
}
