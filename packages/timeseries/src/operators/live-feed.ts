import { type Observable, Subject } from 'rxjs';
import type { Observation } from './series-windows.js';

/** A live feed of observations: push them as they arrive, pipe `source` into the operators. */
export interface LiveFeed<K> {
  readonly source: Observable<Observation<K>>;
  /** Delivers one observation to every subscriber, synchronously. */
  push(obs: Observation<K>): void;
  /** Ends the feed (subscribers complete). */
  end(): void;
}

/**
 * A push source for `rollingForecast` / `anomalyScores` (an RxJS Subject underneath), for
 * callers that receive observations from callbacks (a socket, a queue) rather than from an
 * Observable of their own.
 */
export function liveFeed<K = string>(): LiveFeed<K> {
  const subject = new Subject<Observation<K>>();
  return {
    source: subject.asObservable(),
    push: (obs) => subject.next(obs),
    end: () => subject.complete(),
  };
}
