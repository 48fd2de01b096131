import type { AttrValue } from '../../../graph/ir.js';
import { type QShiftAttrs, qShiftDirections, qShiftSourceToken } from '../../../graph/q-shift.js';
import type { OnnxEmitter } from '../emitter.js';

/**
 * Q-Shift as one Gather of channel runs: the channels of a token split into runs of R
 * (the longest length dividing C on which every run keeps one direction: C / 4 for
 * VRWKV's quarters), x is viewed as [B, T * C / R, R] with one zero run appended (Pad),
 * and a constant index table picks each output run's source run or the zero run. Pure
 * data movement, exact; 5 nodes where slices and concats took about 30.
 */
export function expandQShift(
  em: OnnxEmitter,
  inputs: readonly string[],
  outputs: readonly string[],
  T: number,
  C: number,
  attrs: Readonly<Record<string, AttrValue>>,
): void {
  const a: QShiftAttrs = {
    rows: attrs['rows'] as number,
    cols: attrs['cols'] as number,
    group: attrs['group'] as number,
    shift: attrs['shift'] as number,
    heads: attrs['heads'] as number,
  };
  const dirs = qShiftDirections(C, a);
  const R = longestUniformRun(dirs);
  const runs = C / R; // runs per token
  const zeroRun = T * runs;
  const index: number[] = new Array(T * runs);
  for (let t = 0; t < T; t++)
    for (let j = 0; j < runs; j++) {
      const src = qShiftSourceToken(t, dirs[j * R]!, a);
      index[t * runs + j] = src < 0 ? zeroRun : src * runs + j;
    }
  const p = em.pool;
  const asRuns = em.op1('Reshape', [inputs[0]!, p.int64([-1, T * runs, R])]);
  const padded = em.op1('Pad', [asRuns, p.int64([0, 0, 0, 0, 1, 0]), p.float([0], [])]);
  const gathered = em.op1('Gather', [padded, p.int64(index)], { axis: 1 });
  em.op1('Reshape', [gathered, p.int64([-1, T, C])], {}, outputs[0]!);
}

/** The largest R dividing dirs.length such that each aligned block of R holds one value. */
function longestUniformRun(dirs: Uint8Array): number {
  const C = dirs.length;
  for (let R = C; R > 1; R--) {
    if (C % R !== 0) continue;
    let ok = true;
    for (let i = 0; i < C && ok; i++) ok = dirs[i] === dirs[i - (i % R)];
    if (ok) return R;
  }
  return 1;
}
