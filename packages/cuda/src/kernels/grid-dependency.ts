/**
 * Programmatic dependent launch (Hopper and later, sm_90+): a kernel launched with the
 * programmatic-stream-serialization attribute may start while the kernel before it on
 * its stream is still running; it must then wait (`griddepcontrol.wait`) before it
 * touches anything that kernel, or any earlier one, reads or writes. A decode step at
 * batch 1 is a chain of about 300 dependent kernels of a few microseconds each
 * (packages/cuda/README.md), so each kernel's launch and ramp-up hidden behind the one
 * before is time off the chain; a GEMV can also issue its first weight loads (weights never
 * change during a plan) before it waits, so HBM streams while the previous kernel ends.
 *
 * `withGridDependency` makes a source safe for such launches: every kernel waits first
 * thing, then lets its own dependents launch (`griddepcontrol.launch_dependents`: at most
 * one kernel ahead is resident and waiting, never a cascade). A kernel that places
 * `RWKV_GRID_WAIT();` itself (after work that reads only constant data) is left as it is.
 * Because every kernel waits before its first access to activations, and a kernel's wait
 * returns only once the kernel before it has completed (whose own wait returned only once
 * its predecessor had), reads and writes stay ordered along the whole chain, including
 * reuse of arena memory. Kernels launched without the attribute (cuBLAS, kernels outside
 * plans) keep ordinary stream order.
 */

/** The marker a kernel uses to place its own wait (defined empty when not in use). */
export const GRID_WAIT = 'RWKV_GRID_WAIT();';

const PRELUDE = `#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define RWKV_GRID_WAIT() do { asm volatile("griddepcontrol.wait;" ::: "memory"); asm volatile("griddepcontrol.launch_dependents;" :::); } while (0)
#else
#define RWKV_GRID_WAIT() do { } while (0)
#endif
`;

/**
 * A kernel source's head, up to and including the body's opening brace. Parameter lists
 * may hold parentheses one level deep and span lines (also inside a macro's continued lines).
 */
const KERNEL_HEAD =
  /__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s+)?[\w$#]+\s*\((?:[^()]|\([^()]*\))*\)\s*\{/g;

/**
 * Lines defining RWKV_GRID_WAIT() before `source`, and the wait inserted at the top of each
 * kernel that does not already place it (on the same line as the brace, so kernels
 * defined inside macros stay valid).
 */
export function withGridDependency(source: string): string {
  const heads = [...source.matchAll(KERNEL_HEAD)];
  let out = '';
  let at = 0;
  heads.forEach((m, i) => {
    const bodyStart = m.index + m[0].length;
    const bodyEnd = i + 1 < heads.length ? heads[i + 1]!.index : source.length;
    out += source.slice(at, bodyStart);
    if (!source.slice(bodyStart, bodyEnd).includes(GRID_WAIT)) out += ` ${GRID_WAIT}`;
    at = bodyStart;
  });
  out += source.slice(at);
  return `${PRELUDE}${out}`;
}

/** Whether a device of this compute capability ("sm_90") can launch this way. */
export function supportsGridDependency(arch: string): boolean {
  const m = /^sm_(\d+)/.exec(arch);
  return m !== null && Number(m[1]) >= 90;
}

/**
 * For sources that place `RWKV_GRID_WAIT();` themselves: defines it empty unless the
 * source went through `withGridDependency` (whose prelude comes first).
 */
export const GRID_WAIT_FALLBACK = `#ifndef RWKV_GRID_WAIT
#define RWKV_GRID_WAIT() do { } while (0)
#endif
`;
