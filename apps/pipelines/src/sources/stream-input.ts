/**
 * Reading stdin or a file as a stream of byte chunks or of lines.
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { Observable } from 'rxjs';

/** Where `-` reads from (default: the process's stdin; tests pass their own bytes). */
export type StdinSource = AsyncIterable<Uint8Array>;

/** The bytes of `path`, or of stdin for `-`. */
export function bytesOf(path: string, stdin: StdinSource): AsyncIterable<Uint8Array> {
  return path === '-' ? stdin : createReadStream(path);
}

/**
 * The lines of `path` (or stdin for `-`) with their 1-based numbers, as they arrive, and how
 * to stop reading (see {@link fromIterable}).
 */
export function linesOf(
  path: string,
  stdin: StdinSource,
): { readonly lines: AsyncIterable<{ readonly line: string; readonly number: number }>; close(): void } {
  const input = path === '-' ? Readable.from(stdin) : createReadStream(path);
  const reader = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  async function* numbered() {
    let number = 0;
    try {
      for await (const line of reader) {
        number++;
        yield { line, number };
      }
    } finally {
      reader.close();
    }
  }
  return {
    lines: numbered(),
    close: () => {
      reader.close();
      input.destroy();
      if (stdin instanceof Readable && path === '-') stdin.destroy();
    },
  };
}

/**
 * An Observable of an async iterable that, unlike rxjs's `from()`, ends the iteration when
 * unsubscribed (a stream is destroyed, an iterator's `return()` called): stdin is then
 * released, so a run stopped while a pipe is still open (`arecord | rwkv-streams run`) exits.
 */
export function fromIterable<T>(iterable: AsyncIterable<T>, close?: () => void): Observable<T> {
  // an async generator runs return() only at its next yield, which a read waiting for data
  // never reaches: the stream under it (stdin, a file) is destroyed instead, ending the wait
  const release = () => {
    if (iterable instanceof Readable) iterable.destroy();
    close?.();
  };
  return new Observable<T>((subscriber) => {
    const iterator = iterable[Symbol.asyncIterator]();
    let done = false;
    (async () => {
      try {
        for (;;) {
          const next = await iterator.next();
          if (next.done || subscriber.closed) break;
          subscriber.next(next.value);
        }
        done = true;
        subscriber.complete();
      } catch (err) {
        done = true;
        subscriber.error(err);
      }
    })();
    return () => {
      if (done) return;
      release();
      void iterator.return?.()?.catch(() => {});
    };
  });
}
