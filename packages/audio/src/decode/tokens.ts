import { BadInputError } from '@rwkv-streams/core';

/** A decoded symbol and the model frame (since the stream began) at which it was emitted. */
export interface DecodedToken {
  readonly id: number;
  readonly frame: number;
}

/**
 * A block of per-frame scores: `frames` rows of `vocab` values, row-major (logits or
 * log-probabilities, as each decoder says).
 */
export interface FrameScores {
  readonly data: Float32Array;
  readonly frames: number;
  readonly vocab: number;
}

/** Checks that a block of frame scores is what it says it is (typed error naming the field). */
export function checkFrameScores(scores: FrameScores, vocab?: number): void {
  const { data, frames, vocab: v } = scores;
  if (!Number.isInteger(frames) || frames < 0)
    throw new BadInputError(`frames must be an integer >= 0, got ${frames}`, { field: 'frames' });
  if (!Number.isInteger(v) || v < 2)
    throw new BadInputError(`vocab must be an integer >= 2 (blank and a symbol), got ${v}`, {
      field: 'vocab',
    });
  if (vocab !== undefined && v !== vocab)
    throw new BadInputError(`frame scores have ${v} symbols, the decoder was made for ${vocab}`, {
      field: 'vocab',
    });
  if (data.length !== frames * v)
    throw new BadInputError(
      `frame scores hold ${data.length} values, not frames x vocab = ${frames} x ${v}`,
      {
        field: 'data',
      },
    );
}

/** log(exp(a) + exp(b)) without overflow; -Infinity is the log of zero. */
export function logAddExp(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY) return b;
  if (b === Number.NEGATIVE_INFINITY) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/** Log-softmax of one row (in place into `out`, which may be the input). */
export function logSoftmaxRow(
  row: Float32Array,
  out: Float32Array = new Float32Array(row.length),
): Float32Array {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) if (row[i]! > m) m = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - m);
  const lse = m + Math.log(sum);
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - lse;
  return out;
}

/** Indices of the k largest values of a row, largest first. */
export function topK(row: Float32Array, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < row.length; i++) {
    if (idx.length < k) {
      idx.push(i);
      for (let j = idx.length - 1; j > 0 && row[idx[j]!]! > row[idx[j - 1]!]!; j--)
        [idx[j], idx[j - 1]] = [idx[j - 1]!, idx[j]!];
    } else if (row[i]! > row[idx[k - 1]!]!) {
      idx[k - 1] = i;
      for (let j = k - 1; j > 0 && row[idx[j]!]! > row[idx[j - 1]!]!; j--)
        [idx[j], idx[j - 1]] = [idx[j - 1]!, idx[j]!];
    }
  }
  return idx;
}
