import type { CudaRuntime } from '../src/runtime.js';

/**
 * A runtime that records nothing and runs nothing: allocations hand out increasing fake
 * addresses, every other call returns undefined. Enough for a plan to be built (memory
 * planning, lowering, lanes) without a GPU.
 */
export function standInRuntime(
  /** Each kernel asked for (its source, name and whether for programmatic dependent launch). */
  kernels?: { source: string; name: string; gridDependency: boolean }[],
): CudaRuntime {
  let next = 0x10000n;
  const anything: unknown = new Proxy(() => undefined, { get: () => anything, apply: () => undefined });
  const ctx = new Proxy({} as Record<string, unknown>, {
    get: (_, k) =>
      k === 'malloc'
        ? (n: number) => {
            const p = next;
            next += BigInt(n) + 4096n;
            return p;
          }
        : k === 'attribute'
          ? () => 132
          : () => undefined,
  });
  const base: Record<string, unknown> = {
    ctx,
    stream: anything,
    kernel: (source: string, name: string, gridDependency = false) => {
      kernels?.push({ source, name, gridDependency });
      return { name, handle: null, gridDependency };
    },
    lane: () => ({ stream: anything }),
  };
  return new Proxy(base, { get: (t, k) => (k in t ? t[k as string] : anything) }) as unknown as CudaRuntime;
}
