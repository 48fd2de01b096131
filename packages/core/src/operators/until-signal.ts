import type { EventEmitter } from 'node:events';
import { merge, Observable, type OperatorFunction, takeUntil } from 'rxjs';
import { BadInputError } from '../errors.js';

/** Options of {@link untilSignal}. */
export interface UntilSignalOptions {
  /** Process signals that end the stream (default SIGINT and SIGTERM). */
  readonly signals?: readonly NodeJS.Signals[];
  /** Where signals are heard (default `process`; tests pass an EventEmitter). */
  readonly emitter?: Pick<EventEmitter, 'on' | 'off'>;
  /** Called with the signal that ended the stream. */
  readonly onSignal?: (signal: NodeJS.Signals) => void;
}

/**
 * Completes the stream at SIGINT or SIGTERM, for graceful shutdown. Where it sits decides
 * how: on the SOURCE (`source.pipe(untilSignal(), ...stages)`), no new item enters and the
 * stages finish the items they hold, then the pipeline completes ("drain"); at the END
 * (`pipeline.pipe(untilSignal())`), everything is unsubscribed at once and in-flight work
 * is cancelled through its AbortSignal ("abort"). While subscribed, the signal no longer
 * kills the process (its listener is installed), so a CLI can print what was done; the
 * listeners are removed when the stream ends.
 */
export function untilSignal<T>(options: UntilSignalOptions = {}): OperatorFunction<T, T> {
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  if (signals.length === 0) throw new BadInputError('untilSignal: no signals given', { field: 'signals' });
  const emitter = options.emitter ?? process;
  const heard = merge(
    ...signals.map(
      (sig) =>
        new Observable<NodeJS.Signals>((sub) => {
          const on = () => sub.next(sig);
          emitter.on(sig, on);
          return () => emitter.off(sig, on);
        }),
    ),
  );
  return (source) =>
    source.pipe(
      takeUntil(
        new Observable<void>((sub) =>
          heard.subscribe((sig) => {
            options.onSignal?.(sig);
            sub.next();
          }),
        ),
      ),
    );
}
