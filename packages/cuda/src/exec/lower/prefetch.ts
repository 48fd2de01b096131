import { L2_PREFETCH, L2_PREFETCH_THREADS, l2PrefetchBlocks } from '../../kernels/l2-prefetch.js';
import { kernelStep, type Step } from '../step.js';
import type { PrefetchUnit } from '../units.js';
import { ELEM_BYTES } from '../weights.js';
import { type LowerContext, numelOf } from './context.js';

/** One prefetch launch per weight, in order, until the unit's byte budget is spent. */
export function lowerPrefetch(ctx: LowerContext, u: PrefetchUnit): Step[] {
  const steps: Step[] = [];
  let left = u.bytes;
  for (const w of u.weights) {
    if (left <= 0) break;
    const b = ctx.buf(w);
    const bytes = Math.min(left, numelOf(b.dims) * ELEM_BYTES[b.type]);
    left -= bytes;
    steps.push(
      kernelStep(
        ctx.rt,
        `prefetch ${w.name} (${bytes} bytes) into L2`,
        L2_PREFETCH,
        { grid: [l2PrefetchBlocks(bytes)], block: [L2_PREFETCH_THREADS] },
        [{ ptr: b.ptr }, { i64: BigInt(bytes) }],
      ),
    );
  }
  return steps;
}
