import {
  asyncScheduler,
  from,
  Observable,
  type ObservableInput,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { BadInputError, BadStateError } from '../errors.js';
import { checkCount, checkDelay, checkFunction, checkOptions, reportUnhandled } from './internal.js';
import type { BatchStepper, StepItem, StepResult } from './stepper.js';

/** Options of {@link runStateful}. */
export interface RunStatefulOptions<T, I, O, S, K> {
  /** The model that advances the streams. */
  readonly model: BatchStepper<I, O, S>;
  /**
   * The stream an item belongs to. Keys are compared like `Map` keys (SameValueZero), so
   * use strings, numbers or long-lived objects, not a fresh object per item. A throw here
   * errors the output.
   */
  readonly key: (item: T) => K;
  /**
   * The model input of an item. Called when the item is sent to the model; a throw here
   * fails that item only (see {@link StatefulResult}).
   */
  readonly input: (item: T) => I;
  /**
   * The most items in one `step` call: an integer >= 1 or `Infinity` (default). A batch
   * never holds two items of one key, so it is also bounded by the number of keys.
   */
  readonly maxBatchSize?: number;
  /**
   * How long an item may wait for others to fill its batch, in milliseconds, counted from
   * the item's arrival (time spent behind its own key's earlier items and behind the
   * model counts too). Default `0`: send what is ready at once. Items that arrive in one
   * synchronous run (from an array, or pushed back into the source while a result is
   * delivered) are batched together even with `0`. `Infinity` waits for a full batch (or
   * the source's completion).
   */
  readonly maxLatencyMs?: number;
  /** The most `step` calls in flight at once: an integer >= 1 or `Infinity`. Default `1`. */
  readonly concurrency?: number;
  /**
   * The state a key starts from, created when the key's first item is sent to the model.
   * Default `() => model.initialState()`. A throw here fails that item only. The operator
   * owns the returned state and releases it with `model.releaseState`.
   */
  readonly initialState?: (key: K) => S;
  /**
   * Whether an item is the last of its key. After such an item's result is delivered
   * (success or failure), the key's state is released and the key forgotten: a later
   * item with the same key starts from a fresh initial state. A throw here errors the
   * output.
   */
  readonly endOf?: (item: T) => boolean;
  /**
   * Keys to end without a final item: when this emits `k`, key `k` ends once the items
   * of `k` received before the signal have completed; its state is then released. Keys
   * that hold no state and have no pending items are ignored. An error here errors the
   * output; its completion is ignored.
   */
  readonly endKeys?: ObservableInput<K>;
  /** Where the latency timer runs. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

/**
 * The result for one item of {@link runStateful}: `ok: true` with the model's output and
 * the key's new state, or `ok: false` with the reason the item failed (the key's state
 * was then not advanced). `last` is `true` when the key ended with this item (through
 * `endOf`); its state has been released right after this result was delivered.
 */
export type StatefulResult<T, O, S, K> =
  | {
      readonly ok: true;
      /** The item's key. */
      readonly key: K;
      /** The item, as received. */
      readonly item: T;
      /** The model's output for the item. */
      readonly output: O;
      /**
       * The key's state after the item. Owned by the operator and valid until the key's
       * next item completes, the key ends or the subscription ends (then it is released);
       * copy it to keep it longer.
       */
      readonly state: S;
      /** Whether the key ended with this item. */
      readonly last: boolean;
    }
  | {
      readonly ok: false;
      /** The item's key. */
      readonly key: K;
      /** The item, as received. */
      readonly item: T;
      /**
       * Why it failed: the rejection (or throw) of `step`, the throw of `input`,
       * `model.validateInput` or
       * `initialState`, or a {@link BadStateError} when `step` returned the wrong number of results.
       */
      readonly error: unknown;
      /** Whether the key ended with this item. */
      readonly last: boolean;
    };

interface QueuedItem<T> {
  readonly kind: 'item';
  readonly item: T;
  readonly last: boolean;
  /** When the item was received, by the scheduler's clock. */
  readonly arrival: number;
}

interface QueuedEnd {
  readonly kind: 'end';
}

interface KeyEntry<T, S, K> {
  readonly key: K;
  /** Items (and end markers) not yet sent to the model, in arrival order. */
  readonly queue: (QueuedItem<T> | QueuedEnd)[];
  /** Whether one of the key's items is in a `step` call now. */
  busy: boolean;
  /** Whether `state` holds a state owned by the operator. */
  hasState: boolean;
  state: S | undefined;
}

interface InFlight<T, I, S, K> {
  readonly entry: KeyEntry<T, S, K>;
  readonly queued: QueuedItem<T>;
  readonly input: I;
  readonly state: S;
}

interface Failed<T, S, K> {
  readonly entry: KeyEntry<T, S, K>;
  readonly queued: QueuedItem<T>;
  readonly error: unknown;
}

/**
 * Runs a stateful model over a stream of items that belong to many independent streams
 * (keys: a camera, a speaker, a sensor, a conversation), carrying each key's state from
 * one item to the next and batching the items of different keys into shared `step` calls.
 *
 * **Ordering.**
 * - Items of one key are sent to the model strictly one after another, in arrival order:
 *   item n+1 of a key is sent only after item n's result is in, and sees the state after
 *   item n (or, if item n failed, the state before it). Results of one key are emitted in
 *   arrival order.
 * - Across keys there is no order: results are emitted batch by batch, in the order the
 *   `step` calls complete, and within a batch in the batch's order (the order in which
 *   the items became ready to run). Ready keys are served first come, first served, so no
 *   key starves when more keys are ready than fit in a batch.
 *
 * **Batching.** A batch is sent when a `step` slot is free (`concurrency`) and either
 * `maxBatchSize` items are ready, or the oldest ready item has waited `maxLatencyMs`
 * since it was received, or the source has completed. A batch holds at most one item per
 * key.
 *
 * **Failures are isolated.** If `step` rejects (or throws, or returns the wrong number of
 * results), every item of that batch is emitted as `{ ok: false, error }`; those keys keep
 * the state they had before the batch, and the stream goes on with the next items. A throw
 * of `input`, `model.validateInput` or `initialState` fails that one item the same way. Only a throw of `key` or
 * `endOf`, an error of the source or of `endKeys`, or a throw of `releaseState` errors the
 * output.
 *
 * **State ownership.** The operator owns every state it holds (initial states and the
 * states returned by `step`) and releases each exactly once with `model.releaseState`: a
 * state when the key's next item succeeds (superseded), a key's state when the key ends
 * (`endOf`, `endKeys`), and every state still held when the subscription ends (completion,
 * error or unsubscribe). States passed to a `step` call still in flight are released only
 * after that call settles, never while the model may be reading them.
 *
 * **Cancellation.** On unsubscribe (or error) no further `step` call is made; a call in
 * flight is left to finish, its results are dropped and its input and output states
 * released. On completion of the source, every pending item is still run and delivered,
 * then the output completes.
 *
 * The source is not slowed down: items wait in per-key queues, so a producer much faster
 * than the model grows them without bound.
 *
 * @example
 * ```ts
 * // One RWKV state per conversation; the turns of all conversations are batched together.
 * turns$.pipe(
 *   runStateful({
 *     model: lm,                       // a BatchStepper<Int32Array, Float32Array, LmState>
 *     key: (turn) => turn.conversationId,
 *     input: (turn) => turn.tokens,
 *     endOf: (turn) => turn.final,
 *     maxBatchSize: 16,
 *     maxLatencyMs: 5,
 *   }),
 * ).subscribe((r) => (r.ok ? reply(r.key, r.output) : report(r.key, r.error)));
 * ```
 *
 * @typeParam T - The items of the source.
 * @typeParam I - The model's input.
 * @typeParam O - The model's output.
 * @typeParam S - The model's state.
 * @typeParam K - The keys.
 * @param options - See {@link RunStatefulOptions}.
 * @throws {@link BadInputError} when `maxBatchSize` or `concurrency` is not an integer >= 1
 *   or `Infinity`, `maxLatencyMs` is negative or `NaN`, or `model`, `key` or `input` is
 *   missing.
 */
export function runStateful<T, I, O, S, K>(
  options: RunStatefulOptions<T, I, O, S, K>,
): OperatorFunction<T, StatefulResult<T, O, S, K>> {
  const name = 'runStateful';
  checkOptions(name, options);
  const { model, key: keyOf, input: inputOf, endOf, endKeys } = options;
  if (typeof model !== 'object' || model === null) {
    throw new BadInputError(`${name}: model must be a BatchStepper, got ${String(model)}`, {
      field: 'model',
    });
  }
  checkFunction(name, 'model.step', model.step);
  if (options.initialState === undefined) checkFunction(name, 'model.initialState', model.initialState);
  checkFunction(name, 'key', keyOf);
  checkFunction(name, 'input', inputOf);
  if (endOf !== undefined) checkFunction(name, 'endOf', endOf);
  if (options.initialState !== undefined) checkFunction(name, 'initialState', options.initialState);
  if (model.releaseState !== undefined) checkFunction(name, 'model.releaseState', model.releaseState);
  const maxBatchSize = checkCount(name, 'maxBatchSize', options.maxBatchSize ?? Number.POSITIVE_INFINITY);
  const maxLatencyMs = checkDelay(name, 'maxLatencyMs', options.maxLatencyMs ?? 0);
  const concurrency = checkCount(name, 'concurrency', options.concurrency ?? 1);
  const scheduler = options.scheduler ?? asyncScheduler;
  const initialState = options.initialState ?? ((): S => model.initialState());

  return (source) =>
    new Observable<StatefulResult<T, O, S, K>>((subscriber) => {
      /** False once the subscription has ended: no more steps, no more emissions. */
      let active = true;
      let sourceDone = false;
      let inFlight = 0;
      const keys = new Map<K, KeyEntry<T, S, K>>();
      /** Keys whose head item can be sent now, in the order they became ready. */
      const ready = new Set<KeyEntry<T, S, K>>();

      let timer: Subscription | undefined;
      let timerDeadline = Number.NaN;
      let soonPending = false;
      /** Set when the oldest ready item has waited its `maxLatencyMs`. */
      let due = false;
      let pumping = false;
      let pumpAgain = false;

      const release = (state: S): void => {
        if (model.releaseState === undefined) return;
        try {
          model.releaseState(state);
        } catch (error) {
          if (active) subscriber.error(error);
          else reportUnhandled(error);
        }
      };

      /** Releases the key's state if it holds one (at most once per state). */
      const dropState = (entry: KeyEntry<T, S, K>): void => {
        if (!entry.hasState) return;
        const state = entry.state as S;
        entry.hasState = false;
        entry.state = undefined;
        release(state);
      };

      /** Processes the end markers at the head of an idle key, and files it as ready or forgets it. */
      const settle = (entry: KeyEntry<T, S, K>): void => {
        if (entry.busy || !active) return;
        while (entry.queue[0]?.kind === 'end') {
          entry.queue.shift();
          dropState(entry);
          if (!active) return;
        }
        if (entry.queue.length > 0) {
          ready.add(entry);
        } else if (!entry.hasState && keys.get(entry.key) === entry) {
          keys.delete(entry.key);
        }
      };

      const cancelTimer = (): void => {
        if (timer !== undefined) {
          const t = timer;
          timer = undefined;
          timerDeadline = Number.NaN;
          t.unsubscribe();
        }
      };

      const oldestArrival = (): number => {
        let oldest = Number.POSITIVE_INFINITY;
        for (const entry of ready) {
          const head = entry.queue[0];
          if (head?.kind === 'item' && head.arrival < oldest) oldest = head.arrival;
        }
        return oldest;
      };

      /** Runs `body`, then sends every batch that is due; safe to re-enter. */
      const locked = (body: () => void): void => {
        if (pumping) {
          body();
          pumpAgain = true;
          return;
        }
        pumping = true;
        try {
          body();
          do {
            pumpAgain = false;
            while (active && pumpOnce()) {
              // Keep sending while batches are due and slots are free.
            }
          } while (pumpAgain && active);
          if (active && sourceDone && inFlight === 0 && ready.size === 0) {
            subscriber.complete();
          }
        } finally {
          pumping = false;
        }
      };

      /** Sends one batch if one is due; otherwise arranges to be called when one is. Returns whether it sent. */
      const pumpOnce = (): boolean => {
        if (ready.size === 0) {
          due = false;
          cancelTimer();
          return false;
        }
        if (inFlight >= concurrency) {
          cancelTimer();
          return false;
        }
        if (due || sourceDone || ready.size >= maxBatchSize) {
          due = false;
          cancelTimer();
          dispatch();
          return true;
        }
        if (maxLatencyMs === Number.POSITIVE_INFINITY) return false;
        const deadline = oldestArrival() + maxLatencyMs;
        const wait = deadline - scheduler.now();
        if (wait <= 0) {
          // Due now, but wait for the current synchronous run to finish so that the items
          // it delivers (a burst, or items fed back by a subscriber) share the batch.
          cancelTimer();
          if (!soonPending) {
            soonPending = true;
            queueMicrotask(() => {
              soonPending = false;
              if (!active) return;
              due = true;
              locked(() => {});
            });
          }
          return false;
        }
        if (timer !== undefined && timerDeadline === deadline) return false;
        cancelTimer();
        timerDeadline = deadline;
        timer = scheduler.schedule(() => {
          timer = undefined;
          timerDeadline = Number.NaN;
          if (!active) return;
          due = true;
          locked(() => {});
        }, wait);
        return false;
      };

      /** Takes up to `maxBatchSize` ready items and sends them to the model in one `step`. */
      const dispatch = (): void => {
        const picked: KeyEntry<T, S, K>[] = [];
        for (const entry of ready) {
          if (picked.length >= maxBatchSize) break;
          picked.push(entry);
        }
        const batch: InFlight<T, I, S, K>[] = [];
        const failed: Failed<T, S, K>[] = [];
        for (const entry of picked) {
          ready.delete(entry);
          const queued = entry.queue.shift() as QueuedItem<T>;
          try {
            const input = inputOf(queued.item);
            model.validateInput?.(input);
            if (!entry.hasState) {
              entry.state = initialState(entry.key);
              entry.hasState = true;
            }
            entry.busy = true;
            batch.push({ entry, queued, input, state: entry.state as S });
          } catch (error) {
            failed.push({ entry, queued, error });
          }
        }
        if (batch.length > 0) {
          inFlight += 1;
          const items: StepItem<I, S>[] = batch.map(({ input, state }) => ({ input, state }));
          let pending: Promise<StepResult<O, S>[]>;
          try {
            pending = Promise.resolve(model.step(items));
          } catch (error) {
            pending = Promise.reject(error);
          }
          pending.then(
            (results) => completed(batch, results),
            (error: unknown) => failedBatch(batch, error),
          );
        }
        for (const { entry, queued, error } of failed) {
          if (!active) return;
          deliverFailure(entry, queued, error);
        }
      };

      /** Emits a failure of an item whose key is idle, then ends or re-files the key. */
      const deliverFailure = (entry: KeyEntry<T, S, K>, queued: QueuedItem<T>, error: unknown): void => {
        subscriber.next({ ok: false, key: entry.key, item: queued.item, error, last: queued.last });
        if (!active) return;
        if (queued.last) dropState(entry);
        settle(entry);
      };

      /** After the subscription ended: releases the states of a settled batch from index `start` on. */
      const discard = (
        batch: readonly InFlight<T, I, S, K>[],
        start: number,
        results?: readonly unknown[],
      ): void => {
        for (let i = start; i < batch.length; i++) {
          const { entry, state } = batch[i]!;
          entry.busy = false;
          dropState(entry);
          const result = results?.[i];
          if (isStepResult<O, S>(result) && result.state !== state) release(result.state);
        }
      };

      const completed = (batch: readonly InFlight<T, I, S, K>[], results: unknown): void => {
        inFlight -= 1;
        if (!active) {
          discard(batch, 0, Array.isArray(results) ? results : undefined);
          return;
        }
        if (!Array.isArray(results) || results.length !== batch.length || !results.every(isStepResult)) {
          // A broken model: free what it returned, keep the old states, fail the batch.
          if (Array.isArray(results)) {
            const inputs = new Set<unknown>(batch.map((b) => b.state));
            for (const result of results) {
              if (isStepResult<O, S>(result) && !inputs.has(result.state)) release(result.state);
            }
          }
          const got = Array.isArray(results) ? `${results.length} results` : typeof results;
          failedBatch(
            batch,
            new BadStateError(`model.step returned ${got} for a batch of ${batch.length} items`, {
              field: 'step',
            }),
            false,
          );
          return;
        }
        const typed = results as StepResult<O, S>[];
        locked(() => {
          for (let i = 0; i < batch.length; i++) {
            if (!active) {
              discard(batch, i, typed);
              return;
            }
            const { entry, queued, state: before } = batch[i]!;
            const { output, state } = typed[i]!;
            entry.busy = false;
            entry.state = state;
            if (state !== before) release(before);
            if (!active) {
              // `release` errored the output; teardown has released this (now idle) key's new state.
              discard(batch, i + 1, typed);
              return;
            }
            subscriber.next({
              ok: true,
              key: entry.key,
              item: queued.item,
              output,
              state,
              last: queued.last,
            });
            if (!active) {
              discard(batch, i + 1, typed);
              return;
            }
            if (queued.last) dropState(entry);
            settle(entry);
          }
        });
      };

      const failedBatch = (batch: readonly InFlight<T, I, S, K>[], error: unknown, count = true): void => {
        if (count) inFlight -= 1;
        if (!active) {
          discard(batch, 0);
          return;
        }
        locked(() => {
          for (let i = 0; i < batch.length; i++) {
            if (!active) {
              discard(batch, i);
              return;
            }
            const { entry, queued } = batch[i]!;
            entry.busy = false;
            deliverFailure(entry, queued, error);
          }
        });
      };

      const enqueue = (k: K, queued: QueuedItem<T> | QueuedEnd): void => {
        let entry = keys.get(k);
        if (entry === undefined) {
          if (queued.kind === 'end') return;
          entry = { key: k, queue: [], busy: false, hasState: false, state: undefined };
          keys.set(k, entry);
        }
        const target = entry;
        target.queue.push(queued);
        locked(() => settle(target));
      };

      const teardown = (): void => {
        if (!active) return;
        active = false;
        cancelTimer();
        ready.clear();
        for (const entry of keys.values()) {
          entry.queue.length = 0;
          // Keys in a step in flight are released when that step settles.
          if (!entry.busy) dropState(entry);
        }
        keys.clear();
      };
      subscriber.add(teardown);

      if (endKeys !== undefined) {
        subscriber.add(
          from(endKeys).subscribe({
            next: (k) => enqueue(k, { kind: 'end' }),
            error: (error: unknown) => subscriber.error(error),
          }),
        );
      }

      subscriber.add(
        source.subscribe({
          next: (item) => {
            let k: K;
            let last: boolean;
            try {
              k = keyOf(item);
              last = endOf?.(item) === true;
            } catch (error) {
              subscriber.error(error);
              return;
            }
            enqueue(k, { kind: 'item', item, last, arrival: scheduler.now() });
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => {
            sourceDone = true;
            locked(() => {});
          },
        }),
      );
    });
}

function isStepResult<O, S>(value: unknown): value is StepResult<O, S> {
  return typeof value === 'object' && value !== null && 'state' in value && 'output' in value;
}
