import type { OperatorFunction } from 'rxjs';
import { checkCount, checkFunction, checkOptions } from './internal.js';
import { mapConcurrent } from './map-concurrent.js';

/**
 * The outcome of {@link tryMap} for one item: its value, or the error its work threw or
 * rejected with. Both carry the item, so a failure can be logged or retried.
 */
export type TryResult<T, R> =
  | {
      readonly ok: true;
      /** What `project` returned (or resolved to). */
      readonly value: R;
      /** The item, as received. */
      readonly item: T;
    }
  | {
      readonly ok: false;
      /** What `project` threw (or rejected with). */
      readonly error: unknown;
      /** The item, as received. */
      readonly item: T;
    };

/** Options of {@link tryMap}. */
export interface TryMapOptions<T, R> {
  /**
   * The work for one item; see {@link MapConcurrentOptions.project}. A throw or rejection
   * becomes an `{ ok: false }` result for that item instead of an error of the output.
   */
  readonly project: (item: T, index: number, signal: AbortSignal) => R | PromiseLike<R>;
  /** The most `project` calls running at once: an integer >= 1 or `Infinity`. Default `1`. */
  readonly concurrency?: number;
  /** Whether results come out in the source's order (default `true`). */
  readonly ordered?: boolean;
}

/**
 * Maps each item through work that may fail, without letting one failure end the stream:
 * every item gives one {@link TryResult}, `{ ok: true, value, item }` or
 * `{ ok: false, error, item }`. Failures of `project` (synchronous throws included) are
 * isolated to their item; an error of the source still errors the output.
 *
 * Concurrency, ordering and cancellation (the `signal` aborted on unsubscribe) are those
 * of {@link mapConcurrent}, with `concurrency` 1 by default (one item at a time, in order).
 *
 * @example
 * ```ts
 * urls$.pipe(
 *   tryMap({ project: (url, _i, signal) => fetch(url, { signal }).then((r) => r.json()), concurrency: 8 }),
 * ).subscribe((r) => (r.ok ? use(r.value) : console.warn(`skipped ${r.item}`, r.error)));
 * ```
 *
 * @param options - See {@link TryMapOptions}.
 * @throws {@link BadInputError} when `concurrency` is not an integer >= 1 or `Infinity`,
 *   `project` is not a function or `ordered` is not a boolean.
 */
export function tryMap<T, R>(options: TryMapOptions<T, R>): OperatorFunction<T, TryResult<T, R>> {
  checkOptions('tryMap', options);
  const { project } = options;
  checkFunction('tryMap', 'project', project);
  const concurrency = checkCount('tryMap', 'concurrency', options.concurrency ?? 1);
  return mapConcurrent<T, TryResult<T, R>>({
    concurrency,
    ...(options.ordered === undefined ? {} : { ordered: options.ordered }),
    project: async (item, index, signal) => {
      try {
        return { ok: true, value: await project(item, index, signal), item };
      } catch (error) {
        return { ok: false, error, item };
      }
    },
  });
}
