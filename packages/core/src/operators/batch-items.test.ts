import { concat, from, NEVER, of, Subject, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BadInputError } from '../errors.js';
import { batchItems } from './batch-items.js';

const marbles = (): TestScheduler =>
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('batchItems', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('emits a batch as soon as it is full', () => {
    marbles().run(({ cold, expectObservable }) => {
      const source = cold('abcde|');
      expectObservable(source.pipe(batchItems({ maxBatchSize: 2, maxLatencyMs: 1000 }))).toBe('-x-y-(z|)', {
        x: ['a', 'b'],
        y: ['c', 'd'],
        z: ['e'],
      });
    });
  });

  it('emits a partial batch maxLatencyMs after its first item', () => {
    marbles().run(({ cold, expectObservable }) => {
      // a at 0, b at 5, c at 30: the first batch closes at 10, the second at 40.
      const source = cold('a 4ms b 24ms c 100ms |');
      expectObservable(source.pipe(batchItems({ maxBatchSize: 10, maxLatencyMs: 10 }))).toBe(
        '10ms x 29ms y 90ms |',
        { x: ['a', 'b'], y: ['c'] },
      );
    });
  });

  it('with maxLatencyMs 0 batches what arrives in one frame', () => {
    marbles().run(({ cold, expectObservable }) => {
      // (abc) at 0, (de) at 10, | at 19.
      const source = cold('(abc) 5ms (de) 5ms |');
      expectObservable(source.pipe(batchItems({ maxBatchSize: 10, maxLatencyMs: 0 }))).toBe('x 9ms y 8ms |', {
        x: ['a', 'b', 'c'],
        y: ['d', 'e'],
      });
    });
  });

  it('flushes the remainder on completion and emits no empty batch', () => {
    marbles().run(({ cold, expectObservable }) => {
      expectObservable(cold('ab|').pipe(batchItems({ maxBatchSize: 5, maxLatencyMs: 100 }))).toBe('--(x|)', {
        x: ['a', 'b'],
      });
      expectObservable(cold('--|').pipe(batchItems({ maxBatchSize: 5, maxLatencyMs: 1 }))).toBe('--|');
    });
  });

  it('with infinite size and latency collects everything until completion', () => {
    marbles().run(({ cold, expectObservable }) => {
      expectObservable(
        cold('a 100ms b 100ms c |').pipe(
          batchItems({ maxBatchSize: Number.POSITIVE_INFINITY, maxLatencyMs: Number.POSITIVE_INFINITY }),
        ),
      ).toBe('203ms (x|)', { x: ['a', 'b', 'c'] });
    });
  });

  it('propagates errors, dropping the open batch', () => {
    marbles().run(({ cold, expectObservable }) => {
      expectObservable(cold('abc#').pipe(batchItems({ maxBatchSize: 2, maxLatencyMs: 100 }))).toBe('-x-#', {
        x: ['a', 'b'],
      });
    });
  });

  it('stops on unsubscribe (marbles)', () => {
    marbles().run(({ cold, expectObservable }) => {
      expectObservable(cold('abcd').pipe(batchItems({ maxBatchSize: 10, maxLatencyMs: 5 })), '---!').toBe('');
      // The batch open at the unsubscription is never emitted, even after its latency.
      expectObservable(cold('a-b-c-d').pipe(batchItems({ maxBatchSize: 2, maxLatencyMs: 5 })), '---!').toBe(
        '--x',
        { x: ['a', 'b'] },
      );
    });
  });

  it('leaves no timer after unsubscribe, completion or error', () => {
    vi.useFakeTimers();
    const op = batchItems<number>({ maxBatchSize: 10, maxLatencyMs: 50 });

    const subject = new Subject<number>();
    const got: number[][] = [];
    const sub = subject.pipe(op).subscribe((b) => got.push(b));
    subject.next(1);
    expect(vi.getTimerCount()).toBe(1);
    sub.unsubscribe();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(100);
    expect(got).toEqual([]);

    concat(of(1, 2), NEVER).pipe(op).subscribe().unsubscribe();
    expect(vi.getTimerCount()).toBe(0);

    const done: number[][] = [];
    const completing = new Subject<number>();
    completing.pipe(op).subscribe((b) => done.push(b));
    completing.next(1);
    completing.complete();
    expect(done).toEqual([[1]]);
    expect(vi.getTimerCount()).toBe(0);

    const failing = new Subject<number>();
    let error: unknown;
    failing.pipe(op).subscribe({
      error: (e: unknown) => {
        error = e;
      },
    });
    failing.next(1);
    failing.error(new Error('boom'));
    expect((error as Error).message).toBe('boom');
    expect(vi.getTimerCount()).toBe(0);

    // A batch emitted by size cancels its timer.
    const full = new Subject<number>();
    full.pipe(batchItems<number>({ maxBatchSize: 2, maxLatencyMs: 50 })).subscribe();
    full.next(1);
    full.next(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('starts a new batch with items pushed back while a batch is delivered', () => {
    vi.useFakeTimers();
    const subject = new Subject<number>();
    const got: number[][] = [];
    subject.pipe(batchItems({ maxBatchSize: 2, maxLatencyMs: 10 })).subscribe((batch) => {
      got.push(batch);
      if (batch[0]! < 10) subject.next(batch[0]! * 10);
    });
    subject.next(1);
    subject.next(2);
    expect(got).toEqual([[1, 2]]);
    vi.advanceTimersByTime(10);
    expect(got).toEqual([[1, 2], [10]]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('works with real timers', async () => {
    const got = await new Promise<number[][]>((resolve, reject) => {
      const out: number[][] = [];
      from([1, 2, 3])
        .pipe(batchItems({ maxBatchSize: 2, maxLatencyMs: 5 }))
        .subscribe({ next: (b) => out.push(b), complete: () => resolve(out), error: reject });
    });
    expect(got).toEqual([[1, 2], [3]]);
    await expect(
      new Promise((resolve, reject) =>
        throwError(() => new Error('x'))
          .pipe(batchItems({ maxBatchSize: 2, maxLatencyMs: 5 }))
          .subscribe({ next: resolve, error: reject }),
      ),
    ).rejects.toThrow('x');
  });

  it('rejects bad options with BadInputError', () => {
    for (const maxBatchSize of [0, -1, 1.5, Number.NaN]) {
      expect(() => batchItems({ maxBatchSize, maxLatencyMs: 1 })).toThrow(BadInputError);
    }
    for (const maxLatencyMs of [-1, Number.NaN]) {
      expect(() => batchItems({ maxBatchSize: 1, maxLatencyMs })).toThrow(BadInputError);
    }
    try {
      batchItems({ maxBatchSize: 0, maxLatencyMs: 1 });
    } catch (error) {
      expect(error).toBeInstanceOf(BadInputError);
      expect((error as BadInputError).field).toBe('maxBatchSize');
      expect((error as BadInputError).code).toBe('BAD_INPUT');
    }
  });
});
