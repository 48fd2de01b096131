import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * The intra-op thread count a CPU session takes when the caller names none: one per
 * physical core the process may use (logical CPUs divided by the hardware threads a core
 * runs, read from Linux's topology; elsewhere every logical CPU).
 *
 * Why not onnxruntime's own default (intra_op_num_threads 0): it also picks the physical
 * cores, but then pins each pool thread to a core, where node's own threads share those
 * cores. Measured on this project's 2-core machine (2026-12-06, the float32 0.1B RWKV-7,
 * `RwkvModel.forward` one token a call, fresh processes, medians of 5 x 30 tokens): with
 * onnxruntime's default 24.3-33.9 ms a token over 6 processes, with 2 threads given
 * 16.9-25.4 ms over 5 (the machine's own drift is about +-20%, so only the spread of runs
 * says it); int4 within that drift either way.
 */
export function defaultCpuThreads(
  logical: number = availableParallelism(),
  siblings: () => string | undefined = readCoreSiblings,
): number {
  const perCore = hardwareThreadsPerCore(siblings());
  return Math.max(1, Math.floor(logical / perCore));
}

/** Hardware threads of one core from a `thread_siblings_list` ("0", "0,64", "0-1"); 1 when unknown. */
export function hardwareThreadsPerCore(list: string | undefined): number {
  if (!list) return 1;
  let n = 0;
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return 1;
    n += m[2] === undefined ? 1 : Number(m[2]) - Number(m[1]) + 1;
  }
  return Math.max(1, n);
}

function readCoreSiblings(): string | undefined {
  try {
    return readFileSync('/sys/devices/system/cpu/cpu0/topology/thread_siblings_list', 'utf8');
  } catch {
    return undefined;
  }
}
