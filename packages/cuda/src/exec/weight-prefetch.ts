import type { Value } from '@rwkv-streams/core';
import type { PrefetchUnit, Unit } from './units.js';

/**
 * Bytes prefetched ahead of one GEMV group at most: a third of an H100's 50 MB L2, so a
 * prefetch leaves room for what the running group reads.
 */
export const L2_PREFETCH_MAX_BYTES = 16 * 2 ** 20;

/**
 * Weight prefetch for decoding (off by default: `prefetchWeights`, or
 * RWKV_STREAMS_CUDA_PREFETCH=1). A decode step at batch 1 alternates GEMV groups, which
 * stream weights from HBM, with dependent chains of small kernels (norms, mixes, the WKV
 * step), during which HBM idles: on an H100 the 1.5B step's layer GEMVs ran at under half
 * the copy bandwidth while the head, one long stream, ran at all of it. Before each GEMV
 * group this puts a unit that prefetches the group's weights into L2
 * (kernels/l2-prefetch.ts), starting when the previous group is done, on a lane of its own
 * that nothing waits for (exec/lanes.ts, `background`), so the chain in between hides the
 * fetch and the group reads from L2. At most `maxBytes` a group (from its first weight on),
 * so that a prefetch does not evict what the running group still reads.
 *
 * Measured on an H100 (2026-12-05, `cuda-profile --prefetch`): decode steps replayed
 * 0.93x (0.1B) and 0.92x (1.5B) as fast, so it stays off. Alone, a 1.5B layer's GEMVs
 * from a warm L2 would save about 11 us of 34 (`bench/src/cuda-gemv.ts`), less than the
 * prefetch units' launches and waits added (167 steps at 0.1B, 240 at 1.5B).
 */
export function prefetchWeights(
  units: readonly Unit[],
  /** Bytes a weight occupies on the device. */
  bytesOf: (weight: Value) => number,
  maxBytes: number,
): Unit[] {
  const out: Unit[] = [];
  let previous: Unit | undefined;
  let previousAt = -1; // its index in out (inserting after it leaves it in place)
  for (const u of units) {
    if (u.kind === 'gemv') {
      const weights = u.segments.map((s) => s.linear.inputs[1]!);
      const total = weights.reduce((n, w) => n + bytesOf(w), 0);
      const prefetch: PrefetchUnit = {
        kind: 'prefetch',
        weights,
        bytes: Math.min(total, maxBytes),
        ...(previous ? { after: previous } : {}),
        inputs: [],
        outputs: [],
      };
      // placed right after the previous group, so it runs beside the chain before this one
      out.splice(previousAt + 1, 0, prefetch);
      previous = u;
      previousAt = out.length;
    }
    out.push(u);
  }
  return out;
}
