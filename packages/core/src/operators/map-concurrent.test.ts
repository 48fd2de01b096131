import { from, type Observable, Subject, take } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import { mapConcurrent } from './map-concurrent.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const collect = <T>(source: Observable<T>): Promise<T[]> =>
  new Promise((resolve, reject) => {
    const out: T[] = [];
    source.subscribe({ next: (v) => out.push(v), error: reject, complete: () => resolve(out) });
  });

/** Counts calls running at once. */
class Tracker {
  running = 0;
  max = 0;
  started: number[] = [];
  finished: number[] = [];

  async run<R>(index: number, ms: number, value: R): Promise<R> {
    this.started.push(index);
    this.running += 1;
    this.max = Math.max(this.max, this.running);
    try {
      await sleep(ms);
      this.finished.push(index);
      return value;
    } finally {
      this.running -= 1;
    }
  }
}

describe('mapConcurrent', () => {
  it('never runs more than `concurrency` calls at once, and uses them all', async () => {
    for (const ordered of [true, false]) {
      const tracker = new Tracker();
      const delays = [5, 1, 8, 2, 2, 7, 1, 3, 6, 1, 4, 2, 9, 1, 1, 3, 5, 2, 1, 4];
      const results = await collect(
        from(delays).pipe(
          mapConcurrent({ concurrency: 3, ordered, project: (ms, i) => tracker.run(i, ms, i * 10) }),
        ),
      );
      expect(tracker.max).toBe(3);
      expect([...results].sort((a, b) => a - b)).toEqual(delays.map((_, i) => i * 10));
      if (ordered) expect(results).toEqual(delays.map((_, i) => i * 10));
    }
  });

  it('emits in input order when work completes out of order, still running concurrently', async () => {
    const tracker = new Tracker();
    const delays = [50, 40, 30, 20, 10];
    const t0 = Date.now();
    const results = await collect(
      from(delays).pipe(
        mapConcurrent({ concurrency: 5, project: (ms, i) => tracker.run(i, ms, `item${i}`) }),
      ),
    );
    expect(tracker.finished).toEqual([4, 3, 2, 1, 0]); // completed in reverse
    expect(results).toEqual(['item0', 'item1', 'item2', 'item3', 'item4']); // emitted in order
    expect(Date.now() - t0).toBeLessThan(140); // concurrently: about 50 ms, not 150
  });

  it('with ordered: false emits in completion order', async () => {
    const results = await collect(
      from([30, 5, 15]).pipe(
        mapConcurrent({ concurrency: 3, ordered: false, project: (ms) => sleep(ms).then(() => ms) }),
      ),
    );
    expect(results).toEqual([5, 15, 30]);
  });

  it('in ordered mode holds a slot until its result is emitted, bounding what waits', async () => {
    const tracker = new Tracker();
    const source = new Subject<number>();
    const got: number[] = [];
    source
      .pipe(mapConcurrent({ concurrency: 2, project: (ms, i) => tracker.run(i, ms, i) }))
      .subscribe((v) => got.push(v));
    source.next(60); // slow head
    source.next(1);
    source.next(1);
    source.next(1);
    await sleep(25);
    // Item 1 has finished but waits for item 0: no third item starts meanwhile.
    expect(tracker.started).toEqual([0, 1]);
    expect(got).toEqual([]);
    await sleep(80);
    expect(got).toEqual([0, 1, 2, 3]);
    expect(tracker.max).toBe(2);
  });

  it('holds back the source: items wait until a slot frees (as mergeMap concurrency)', async () => {
    const source = new Subject<number>();
    const calls: number[] = [];
    const gates: (() => void)[] = [];
    const got: number[] = [];
    source
      .pipe(
        mapConcurrent({
          concurrency: 2,
          project: (x) => {
            calls.push(x);
            return new Promise<number>((resolve) => gates.push(() => resolve(x)));
          },
        }),
      )
      .subscribe((v) => got.push(v));
    for (let i = 0; i < 5; i++) source.next(i);
    expect(calls).toEqual([0, 1]);
    gates[0]!();
    await sleep(1);
    expect(calls).toEqual([0, 1, 2]);
    expect(got).toEqual([0]);
  });

  it('passes the index and accepts synchronous values', async () => {
    const results = await collect(
      from(['a', 'b', 'c']).pipe(mapConcurrent({ concurrency: 2, project: (s, i) => `${s}${i}` })),
    );
    expect(results).toEqual(['a0', 'b1', 'c2']);
  });

  it('aborts the signal of running calls on unsubscribe and starts nothing more', async () => {
    const source = new Subject<number>();
    const signals: AbortSignal[] = [];
    const started: number[] = [];
    const got: number[] = [];
    const sub = source
      .pipe(
        mapConcurrent({
          concurrency: 2,
          project: (x, _i, signal) => {
            started.push(x);
            signals.push(signal);
            return new Promise<number>((resolve, reject) => {
              const timer = setTimeout(() => resolve(x), 1000);
              signal.addEventListener('abort', () => {
                clearTimeout(timer);
                reject(signal.reason);
              });
            });
          },
        }),
      )
      .subscribe({ next: (v) => got.push(v), error: () => got.push(-1) });
    for (let i = 0; i < 4; i++) source.next(i);
    expect(started).toEqual([0, 1]);
    expect(signals.some((s) => s.aborted)).toBe(false);
    sub.unsubscribe();
    expect(signals.map((s) => s.aborted)).toEqual([true, true]);
    source.next(9);
    await sleep(10);
    expect(started).toEqual([0, 1]); // the queued items 2, 3 and the later 9 never started
    expect(got).toEqual([]); // the aborted rejections are not delivered
  });

  it('aborts running calls when downstream takes what it needs', async () => {
    const signals: AbortSignal[] = [];
    const got = await collect(
      from([1, 50, 50]).pipe(
        mapConcurrent({
          concurrency: 3,
          ordered: false,
          project: (ms, _i, signal) => {
            signals.push(signal);
            return sleep(ms).then(() => ms);
          },
        }),
        take(1),
      ),
    );
    expect(got).toEqual([1]);
    expect(signals.map((s) => s.aborted)).toEqual([false, true, true]);
  });

  it('errors on a failing call and aborts the others', async () => {
    const signals: AbortSignal[] = [];
    const run = collect(
      from([10, 100, 100]).pipe(
        mapConcurrent({
          concurrency: 3,
          project: async (ms, i, signal) => {
            signals.push(signal);
            await sleep(ms);
            if (i === 0) throw new Error('item 0 failed');
            return ms;
          },
        }),
      ),
    );
    await expect(run).rejects.toThrow('item 0 failed');
    expect(signals.map((s) => s.aborted)).toEqual([false, true, true]);

    const sync = collect(
      from([1, 2]).pipe(
        mapConcurrent({
          concurrency: 1,
          project: (x) => {
            if (x === 2) throw new Error('sync');
            return x;
          },
        }),
      ),
    );
    await expect(sync).rejects.toThrow('sync');
  });

  it('rejects bad options with BadInputError', () => {
    const project = (x: number): number => x;
    for (const concurrency of [0, -1, 1.5, Number.NaN]) {
      expect(() => mapConcurrent({ concurrency, project })).toThrow(BadInputError);
    }
    expect(() => mapConcurrent({ concurrency: 1, project: 3 as unknown as typeof project })).toThrow(
      BadInputError,
    );
    expect(() => mapConcurrent({ concurrency: 1, project, ordered: 'yes' as unknown as boolean })).toThrow(
      BadInputError,
    );
    expect(() => mapConcurrent({ concurrency: Number.POSITIVE_INFINITY, project })).not.toThrow();
  });
});
