import type { Value } from '@rwkv-streams/core';
import type { LowerContext } from '../src/exec/lower/context.js';
import type { CudaRuntime } from '../src/runtime.js';

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
  return { ctx, launches, source: () => source, name: () => name };
}
