import type { Value } from '@rwkv-streams/core';
import type { LowerContext } from '../src/exec/lower/context.js';
import type { Step } from '../src/exec/step.js';
import type { CudaRuntime, Lane } from '../src/runtime.js';

/**
 * A stand-in CUDA runtime for lowering tests (no GPU): kernels are "compiled" by keeping
 * their source and name, and launches are recorded as their encoded parameter buffers, so a
 * test can decode what a lowering would pass to the GPU and run the kernel's loop on the host.
 */
export interface RecordingRuntime {
  /** A lowering context over the given buffers and shapes. */
  readonly ctx: LowerContext;
  /** Each launch's parameter buffers, in order. */
  readonly launches: Buffer[][];
  /** The source of the last kernel compiled. */
  source(): string;
  /** The name of the last kernel compiled. */
  name(): string;
  /**
   * Enqueues a lowering's steps, which must be one kernel launch, and returns that launch's
   * parameter buffers with the device pointers at their head (`pointers` of them) decoded.
   */
  launchOne(steps: readonly Step[], pointers: number): { params: Buffer[]; ptrs: bigint[] };
}

/** A recording runtime whose context finds each value's buffer and dims by name. */
export function recordingRuntime(
  bufs: ReadonlyMap<string, ReturnType<LowerContext['buf']>>,
  shapes: ReadonlyMap<string, readonly number[]>,
): RecordingRuntime {
  const launches: Buffer[][] = [];
  let source = '';
  let name = '';
  const rt = {
    kernel: (src: string, n: string) => {
      source = src;
      name = n;
      return {};
    },
    ctx: {
      setMaxDynamicSharedMemory: () => undefined,
      launchEncoded: (_fn: unknown, _cfg: unknown, params: Buffer[]) => launches.push(params),
    },
  } as unknown as CudaRuntime;
  const ctx: LowerContext = {
    rt,
    buf: (v: Value) => bufs.get(v.name)!,
    dims: (v: Value) => shapes.get(v.name)! as number[],
    scratch: () => 0n,
    scalar: () => undefined,
  };
  const launchOne = (steps: readonly Step[], pointers: number) => {
    if (steps.length !== 1) throw new Error(`expected one step, got ${steps.length}`);
    const before = launches.length;
    steps[0]!.enqueue({ stream: {} } as unknown as Lane);
    if (launches.length !== before + 1) throw new Error('the step launched no kernel or several');
    const params = launches[before]!;
    return { params, ptrs: params.slice(0, pointers).map((b) => b.readBigUInt64LE(0)) };
  };
  return { ctx, launches, source: () => source, name: () => name, launchOne };
}
