/**
 * What the series tasks share: observations checked before they reach a model (so one bad
 * row is that row's error, not the end of the stream), and the bookkeeping that lets them
 * answer every item in order although the models answer only some.
 *
 * @module
 */
import { BadInputError, ShapeMismatchError } from '@rwkv-streams/core';
import { connect, filter, map, merge, Observable, type OperatorFunction } from 'rxjs';
import type { ObservationItem } from '../items.js';
import type { Outcome } from './task.js';

/**
 * Checks each observation (channel count, time after its series' last) before the model
 * sees it, and counts each series' observations so far (the task decides from the count
 * whether the model will answer it).
 */
export class ObservationGate {
  private readonly seen = new Map<string, { count: number; last: number }>();

  constructor(private readonly channels: number) {}

  /** The observation's 1-based number in its series, or why it is refused. */
  admit(o: ObservationItem): { count: number } | { error: BadInputError } {
    if (o.values.length !== this.channels)
      return {
        error: new ShapeMismatchError(
          `${o.values.length} values, the model takes ${this.channels} channels`,
          {
            field: 'values',
          },
        ),
      };
    const s = this.seen.get(o.key) ?? { count: 0, last: Number.NEGATIVE_INFINITY };
    if (!(o.timestamp > s.last))
      return {
        error: new BadInputError(`time ${o.timestamp} does not come after ${s.last}`, { field: 'timestamp' }),
      };
    this.seen.set(o.key, { count: s.count + 1, last: o.timestamp });
    return { count: s.count + 1 };
  }
}

/** An observation numbered in the task's input, with what the gate said. */
interface Gated {
  readonly seq: number;
  readonly item: ObservationItem;
  /** Refused: the item's error outcome. */
  readonly error?: BadInputError;
  /** Admitted, but the model will not answer it (its window is not full yet). */
  readonly unanswered?: boolean;
}

/** Emits outcomes in input order (`seq` 0, 1, 2, ...), holding those that come early. */
function inOrder(): OperatorFunction<{ readonly seq: number; readonly outcome: Outcome }, Outcome> {
  return (source) =>
    new Observable<Outcome>((subscriber) => {
      const held = new Map<number, Outcome>();
      let next = 0;
      return source.subscribe({
        next: ({ seq, outcome }) => {
          held.set(seq, outcome);
          for (let o = held.get(next); o; o = held.get(next)) {
            held.delete(next++);
            subscriber.next(o);
          }
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}

/**
 * Runs a series model operator so that every observation gets one outcome, in order:
 * refused ones their error, ones the model will not answer (`answers(count)` false) a
 * `none`, the rest the model's result, matched back to its observation by series and time.
 * The model operator must answer exactly the admitted observations `answers` says it will.
 */
export function answerEveryObservation<
  R extends { readonly key: string; readonly timestamp: number },
>(options: {
  readonly channels: number;
  readonly answers: (count: number) => boolean;
  readonly model: OperatorFunction<ObservationItem, R>;
  readonly result: (r: R, item: ObservationItem) => Outcome['result'];
}): OperatorFunction<ObservationItem, Outcome> {
  return (items) => {
    const gate = new ObservationGate(options.channels);
    const waiting = new Map<string, Gated>();
    const keyOf = (key: string, t: number) => `${key}\u0000${t}`;
    return items.pipe(
      map((item, seq): Gated => {
        const admitted = gate.admit(item);
        if ('error' in admitted) return { seq, item, error: admitted.error };
        const gated = { seq, item, ...(options.answers(admitted.count) ? {} : { unanswered: true }) };
        if (!gated.unanswered) waiting.set(keyOf(item.key, item.timestamp), gated);
        return gated;
      }),
      // both branches subscribe before the first item flows
      connect((gated) =>
        merge(
          gated.pipe(
            filter((g) => g.error !== undefined || g.unanswered === true),
            map((g) => ({
              seq: g.seq,
              outcome: g.error ? { item: g.item, error: g.error } : ({ item: g.item, none: true } as const),
            })),
          ),
          gated.pipe(
            filter((g) => g.error === undefined),
            map((g) => g.item),
            options.model,
            map((r) => {
              const k = keyOf(r.key, r.timestamp);
              const g = waiting.get(k);
              if (!g)
                throw new BadInputError(
                  `internal: the model answered an observation not expected (${r.key} ${r.timestamp})`,
                );
              waiting.delete(k);
              return { seq: g.seq, outcome: { item: g.item, result: options.result(r, g.item) } };
            }),
          ),
        ),
      ),
      inOrder(),
    );
  };
}
