import { concatMap, delay, lastValueFrom, map, of, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import { limitFlow } from './limit-flow.js';

/** A stage that takes `ms` per item, one at a time. */
const slow = (ms: number) => concatMap((x: number) => of(x).pipe(delay(ms)));

/** Pushes 1..n at once (a burst faster than any stage), then completes. */
async function burst(n: number, op: ReturnType<typeof limitFlow<number, number>>) {
  const src = new Subject<number>();
  const done = lastValueFrom(src.pipe(op, toArray()));
  for (let i = 1; i <= n; i++) src.next(i);
  src.complete();
  return done;
}

describe('limitFlow()', () => {
  it('drop-oldest keeps the latest items that fit; drop-newest the earliest', async () => {
    const dropped: number[] = [];
    const latest = await burst(
      8,
      limitFlow(slow(3), { capacity: 2, policy: 'drop-oldest', onDrop: (x) => dropped.push(x) }),
    );
    // 1 goes straight in; 2..8 arrive while it runs: the queue keeps the last two
    expect(latest).toEqual([1, 7, 8]);
    expect(dropped).toEqual([2, 3, 4, 5, 6]);
    const earliest = await burst(8, limitFlow(slow(3), { capacity: 2, policy: 'drop-newest' }));
    expect(earliest).toEqual([1, 2, 3]);
  });

  it('passes everything when the stage keeps up, and lets maxInFlight items in at once', async () => {
    const src = new Subject<number>();
    const out = lastValueFrom(
      src.pipe(limitFlow(slow(1), { capacity: 0, policy: 'drop-newest' }), toArray()),
    );
    for (let i = 1; i <= 4; i++) {
      src.next(i);
      await new Promise((r) => setTimeout(r, 10)); // slower than the stage
    }
    src.complete();
    expect(await out).toEqual([1, 2, 3, 4]);
    // a stage that answers synchronously never has a queue
    expect(
      await burst(
        5,
        limitFlow(
          map((x: number) => x * 10),
          { capacity: 0, policy: 'error' },
        ),
      ),
    ).toEqual([10, 20, 30, 40, 50]);
    // three inside at once (mergeMap-like stage), then the queue
    const par = concatMap((x: number) => of(x).pipe(delay(2)));
    expect(await burst(6, limitFlow(par, { capacity: 1, policy: 'drop-oldest', maxInFlight: 3 }))).toEqual([
      1, 2, 3, 6,
    ]);
  });

  it("'error' fails the stream with a typed error when the queue overflows; bad options are typed errors", async () => {
    await expect(burst(5, limitFlow(slow(2), { capacity: 2, policy: 'error' }))).rejects.toThrow(
      BadInputError,
    );
    expect(() => limitFlow(slow(1), { capacity: -1, policy: 'error' })).toThrow(/capacity/);
    expect(() => limitFlow(slow(1), { capacity: 1, policy: 'block' as never })).toThrow(/policy/);
    expect(() => limitFlow(slow(1), { capacity: 1, policy: 'error', maxInFlight: 0 })).toThrow(/maxInFlight/);
  });
});
