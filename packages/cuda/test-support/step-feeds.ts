import { type Graph, SeededRandom, type TensorValue } from '@rwkv-streams/core';
import { createCudaBackend } from '../src/backend/cuda-backend.js';
import type { CudaExecutable } from '../src/exec/executable.js';
import type { PlanOptions } from '../src/exec/plan.js';

/**
 * Random feeds for a graph at `batch` streams: float inputs normal * 0.5 (seeded), int32
 * inputs (tokens) `i * 7 % vocab`.
 */
export function randomFeeds(
  graph: Graph,
  batch: number,
  seed: number,
  vocab: number,
): Record<string, TensorValue> {
  const rng = new SeededRandom(seed);
  const feeds: Record<string, TensorValue> = {};
  for (const v of graph.inputs) {
    const dims = v.shape.map((d) => (typeof d === 'number' ? d : batch));
    const n = dims.reduce((a, b) => a * b, 1);
    feeds[v.name] =
      v.dtype === 'int32'
        ? { dtype: 'int32', dims, data: Int32Array.from({ length: n }, (_, i) => (i * 7) % vocab) }
        : { dtype: 'float32', dims, data: Float32Array.from({ length: n }, () => rng.normal() * 0.5) };
  }
  return feeds;
}

/**
 * `graph` compiled for CUDA with `options` and run three times on `feeds` (eager, recorded
 * as a CUDA graph, replayed); the executable is disposed after. `inspect` sees it first.
 */
export async function threeCudaCalls(
  graph: Graph,
  options: PlanOptions,
  weightDType: 'float32' | 'float16' | 'bfloat16',
  feeds: Record<string, TensorValue>,
  inspect?: (exe: CudaExecutable) => void,
): Promise<Record<string, TensorValue>[]> {
  const exe = (await createCudaBackend(options).compile(graph, {
    device: 'cuda',
    weightDType,
  })) as CudaExecutable;
  try {
    inspect?.(exe);
    const outs = [];
    for (let i = 0; i < 3; i++) outs.push(await exe.run(feeds));
    return outs;
  } finally {
    await exe.dispose();
  }
}

/**
 * The largest difference between two sets of `threeCudaCalls` outputs, each relative to the
 * larger of 1 and the reference value (lengths must match: a mismatch throws).
 */
export function worstRelativeDifference(
  reference: Record<string, TensorValue>[],
  other: Record<string, TensorValue>[],
): number {
  let worst = 0;
  reference.forEach((call, i) => {
    for (const name of Object.keys(call)) {
      const a = call[name]!.data;
      const b = other[i]![name]!.data;
      if (a.length !== b.length) throw new Error(`${name}: ${b.length} values against ${a.length}`);
      for (let j = 0; j < a.length; j++)
        worst = Math.max(worst, Math.abs(Number(a[j]) - Number(b[j])) / Math.max(1, Math.abs(Number(a[j]))));
    }
  });
  return worst;
}
