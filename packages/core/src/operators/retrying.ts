import { BadInputError } from '../errors.js';

/** Options of {@link retrying}. */
export interface RetryOptions {
  /** Further attempts after the first fails (an integer >= 0; default 3). */
  readonly retries?: number;
  /** Wait before the first retry, ms (default 100). */
  readonly backoffMs?: number;
  /** Each wait is this many times the previous (default 2). */
  readonly factor?: number;
  /** The longest wait, ms (default 10,000). */
  readonly maxBackoffMs?: number;
  /** Whether an error is worth another attempt (default: every error). */
  readonly retryIf?: (error: unknown) => boolean;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', stop, { once: true });
  });

/**
 * A stage's per-item work made to retry with exponential back-off: give the result to
 * `mapConcurrent` (an item that still fails after its retries fails the stream: the "fail"
 * policy) or `tryMap` (it becomes that item's `{ ok: false }` result and the stream goes
 * on: the "skip" policy). Waiting stops when the item's signal aborts (unsubscribe).
 */
export function retrying<T, R>(
  project: (item: T, index: number, signal: AbortSignal) => R | PromiseLike<R>,
  options: RetryOptions = {},
): (item: T, index: number, signal: AbortSignal) => Promise<R> {
  const retries = options.retries ?? 3;
  const backoff = options.backoffMs ?? 100;
  const factor = options.factor ?? 2;
  const maxBackoff = options.maxBackoffMs ?? 10_000;
  if (!Number.isInteger(retries) || retries < 0)
    throw new BadInputError(`retrying: retries must be an integer >= 0, got ${retries}`, {
      field: 'retries',
    });
  for (const [field, v, min] of [
    ['backoffMs', backoff, 0],
    ['factor', factor, 1],
    ['maxBackoffMs', maxBackoff, 0],
  ] as const)
    if (!(v >= min) || !Number.isFinite(v))
      throw new BadInputError(`retrying: ${field} must be a finite number >= ${min}, got ${v}`, { field });
  return async (item, index, signal) => {
    let wait = backoff;
    for (let attempt = 0; ; attempt++) {
      try {
        return await project(item, index, signal);
      } catch (error) {
        if (attempt >= retries || signal.aborted || (options.retryIf && !options.retryIf(error))) throw error;
      }
      await sleep(Math.min(wait, maxBackoff), signal);
      wait *= factor;
    }
  };
}
