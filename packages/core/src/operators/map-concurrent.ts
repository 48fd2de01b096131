import { Observable, type OperatorFunction } from 'rxjs';
import { BadInputError } from '../errors.js';
import { checkCount, checkFunction, checkOptions } from './internal.js';

/** Options of {@link mapConcurrent}. */
export interface MapConcurrentOptions<T, R> {
  /**
   * The work for one item. `index` counts the source's items from 0. `signal` is aborted
   * when the subscription ends before the work's result was used (unsubscribe, or an error
   * of the source or of another item's work): stop early and free resources on it. A throw
   * or rejection errors the output (use {@link tryMap} to keep going instead).
   */
  readonly project: (item: T, index: number, signal: AbortSignal) => R | PromiseLike<R>;
  /** The most `project` calls running at once: an integer >= 1 or `Infinity`. */
  readonly concurrency: number;
  /**
   * Whether results are emitted in the source's order (default `true`) rather than as
   * they complete.
   */
  readonly ordered?: boolean;
}

interface Task<R> {
  readonly controller: AbortController;
  done: boolean;
  value: R | undefined;
}

/**
 * Maps each item through asynchronous work, running up to `concurrency` of them at once.
 *
 * - **Bounded concurrency**: never more than `concurrency` calls of `project` are
 *   running. Items that arrive while all slots are taken wait in a queue (in arrival
 *   order) and start when a slot frees, as with `mergeMap`'s `concurrent` argument. In
 *   ordered mode a slot is held until its result is *emitted*, so at most `concurrency`
 *   results (running or finished and waiting for an earlier one) exist at a time: a slow
 *   item holds back later starts rather than letting finished results pile up.
 * - **Order**: with `ordered: true` (default) results are emitted in the source's order
 *   while the work still runs concurrently; with `ordered: false` they are emitted as they
 *   complete.
 * - **Completion**: the output completes after the source has completed and every
 *   started and queued item has been emitted.
 * - **Errors**: a throw or rejection of `project`, or an error of the source, errors the
 *   output at once; the other running calls' signals are aborted and their results dropped.
 * - **Cancellation**: on unsubscribe no new call of `project` is started, the queued items
 *   are dropped, and the `signal` of every running call is aborted; results arriving
 *   afterwards are ignored.
 *
 * @example
 * ```ts
 * // Decode up to 4 audio files at a time; results in file order.
 * paths$.pipe(
 *   mapConcurrent({
 *     concurrency: 4,
 *     project: (path, _index, signal) => readFile(path, { signal }).then(decodeWav),
 *   }),
 * );
 * ```
 *
 * @param options - See {@link MapConcurrentOptions}.
 * @throws {@link BadInputError} when `concurrency` is not an integer >= 1 or `Infinity`,
 *   `project` is not a function or `ordered` is not a boolean.
 */
export function mapConcurrent<T, R>(options: MapConcurrentOptions<T, R>): OperatorFunction<T, R> {
  const name = 'mapConcurrent';
  checkOptions(name, options);
  const { project } = options;
  checkFunction(name, 'project', project);
  const concurrency = checkCount(name, 'concurrency', options.concurrency);
  const ordered = options.ordered ?? true;
  if (typeof ordered !== 'boolean') {
    throw new BadInputError(`${name}: ordered must be a boolean, got ${String(ordered)}`, {
      field: 'ordered',
    });
  }

  return (source) =>
    new Observable<R>((subscriber) => {
      let active = true;
      let sourceDone = false;
      let nextIndex = 0;
      /** Items received but not started, in arrival order. */
      const queue: { readonly item: T; readonly index: number }[] = [];
      /** Started calls that have not settled. */
      const running = new Set<Task<R>>();
      /** Ordered mode: started tasks not yet emitted, in index order. */
      const window: Task<R>[] = [];

      const slotsUsed = (): number => (ordered ? window.length : running.size);

      const fail = (error: unknown): void => {
        if (!active) return;
        subscriber.error(error);
      };

      const checkComplete = (): void => {
        if (active && sourceDone && queue.length === 0 && running.size === 0 && window.length === 0) {
          subscriber.complete();
        }
      };

      const startWork = (): void => {
        while (active && queue.length > 0 && slotsUsed() < concurrency) {
          const { item, index } = queue.shift()!;
          const task: Task<R> = { controller: new AbortController(), done: false, value: undefined };
          running.add(task);
          if (ordered) window.push(task);
          let result: R | PromiseLike<R>;
          try {
            result = project(item, index, task.controller.signal);
          } catch (error) {
            fail(error);
            return;
          }
          Promise.resolve(result).then(
            (value) => settled(task, value),
            (error: unknown) => {
              if (!running.delete(task)) return;
              fail(error);
            },
          );
        }
      };

      const settled = (task: Task<R>, value: R): void => {
        if (!running.delete(task) || !active) return;
        if (ordered) {
          task.done = true;
          task.value = value;
          while (active && window[0]?.done) {
            const head = window.shift()!;
            const result = head.value as R;
            head.value = undefined;
            subscriber.next(result);
          }
        } else {
          subscriber.next(value);
        }
        startWork();
        checkComplete();
      };

      subscriber.add(() => {
        active = false;
        queue.length = 0;
        window.length = 0;
        const aborted = [...running];
        running.clear();
        for (const task of aborted) task.controller.abort();
      });

      subscriber.add(
        source.subscribe({
          next: (item) => {
            queue.push({ item, index: nextIndex++ });
            startWork();
          },
          error: (error: unknown) => fail(error),
          complete: () => {
            sourceDone = true;
            checkComplete();
          },
        }),
      );
    });
}
