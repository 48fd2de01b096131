import { concat, from, type Observable, Subject, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import { type TryResult, tryMap } from './try-map.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const collect = <T>(source: Observable<T>): Promise<T[]> =>
  new Promise((resolve, reject) => {
    const out: T[] = [];
    source.subscribe({ next: (v) => out.push(v), error: reject, complete: () => resolve(out) });
  });

const describeResult = (r: TryResult<number, number>): string =>
  r.ok ? `ok ${r.item} -> ${r.value}` : `failed ${r.item}: ${(r.error as Error).message}`;

describe('tryMap', () => {
  it('turns failures into results and keeps going', async () => {
    const results = await collect(
      from([1, 2, 3, 4]).pipe(
        tryMap({
          project: async (x) => {
            await sleep(1);
            if (x % 2 === 0) throw new Error(`even ${x}`);
            return x * 10;
          },
        }),
      ),
    );
    expect(results.map(describeResult)).toEqual([
      'ok 1 -> 10',
      'failed 2: even 2',
      'ok 3 -> 30',
      'failed 4: even 4',
    ]);
  });

  it('catches synchronous throws and plain values', async () => {
    const results = await collect(
      from([1, 0, 2]).pipe(
        tryMap({
          project: (x) => {
            if (x === 0) throw new Error('zero');
            return 6 / x;
          },
        }),
      ),
    );
    expect(results.map(describeResult)).toEqual(['ok 1 -> 6', 'failed 0: zero', 'ok 2 -> 3']);
  });

  it('runs one at a time by default, and up to `concurrency` when asked, in order', async () => {
    for (const [concurrency, expected] of [
      [undefined, 1],
      [3, 3],
    ] as const) {
      let running = 0;
      let max = 0;
      const results = await collect(
        from([20, 5, 10, 1, 8]).pipe(
          tryMap({
            ...(concurrency === undefined ? {} : { concurrency }),
            project: async (ms) => {
              running += 1;
              max = Math.max(max, running);
              await sleep(ms);
              running -= 1;
              if (ms === 1) throw new Error('one');
              return ms;
            },
          }),
        ),
      );
      expect(max).toBe(expected);
      expect(results.map((r) => r.item)).toEqual([20, 5, 10, 1, 8]);
      expect(results.map((r) => r.ok)).toEqual([true, true, true, false, true]);
    }
  });

  it('still forwards an error of the source', async () => {
    const failing = concat(
      from([1]),
      throwError(() => new Error('source broke')),
    );
    await expect(collect(failing.pipe(tryMap({ project: (x: number) => x })))).rejects.toThrow(
      'source broke',
    );
  });

  it('aborts the signal on unsubscribe', async () => {
    const source = new Subject<number>();
    let seen: AbortSignal | undefined;
    const sub = source
      .pipe(
        tryMap({
          project: (x, _i, signal) => {
            seen = signal;
            return sleep(50).then(() => x);
          },
        }),
      )
      .subscribe();
    source.next(1);
    expect(seen?.aborted).toBe(false);
    sub.unsubscribe();
    expect(seen?.aborted).toBe(true);
  });

  it('rejects bad options with BadInputError', () => {
    const project = (x: number): number => x;
    expect(() => tryMap({ project, concurrency: 0 })).toThrow(BadInputError);
    expect(() => tryMap({ project: undefined as unknown as typeof project })).toThrow(BadInputError);
  });
});
