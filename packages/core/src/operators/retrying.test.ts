import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import { mapConcurrent } from './map-concurrent.js';
import { retrying } from './retrying.js';
import { tryMap } from './try-map.js';

/** Work that fails its first `failures[item]` attempts, recording each attempt's time. */
function flaky(failures: Record<number, number>) {
  const attempts: Record<number, number[]> = {};
  const work = (x: number) => {
    attempts[x] ??= [];
    attempts[x].push(performance.now());
    if (attempts[x].length <= (failures[x] ?? 0)) throw new Error(`item ${x} failed`);
    return x * 10;
  };
  return { work, attempts };
}

describe('retrying()', () => {
  it('retries with exponential back-off until the work succeeds', async () => {
    const { work, attempts } = flaky({ 2: 2 });
    const out = await lastValueFrom(
      from([1, 2, 3]).pipe(
        mapConcurrent({ concurrency: 1, project: retrying(work, { retries: 3, backoffMs: 10 }) }),
        toArray(),
      ),
    );
    expect(out).toEqual([10, 20, 30]);
    const t = attempts[2]!;
    expect(t).toHaveLength(3);
    expect(t[1]! - t[0]!).toBeGreaterThanOrEqual(9); // 10 ms, then
    expect(t[2]! - t[1]!).toBeGreaterThanOrEqual(19); // 20 ms
  });

  it('skip policy (tryMap): an item that fails every retry is a failed result, the stream goes on', async () => {
    const { work, attempts } = flaky({ 2: 99 });
    const out = await lastValueFrom(
      from([1, 2, 3]).pipe(tryMap({ project: retrying(work, { retries: 2, backoffMs: 1 }) }), toArray()),
    );
    expect(out.map((r) => r.ok)).toEqual([true, false, true]);
    expect(attempts[2]).toHaveLength(3);
  });

  it('fail policy (mapConcurrent): the error ends the stream; retryIf limits what is retried', async () => {
    const { work, attempts } = flaky({ 1: 99 });
    await expect(
      lastValueFrom(
        from([1, 2]).pipe(
          mapConcurrent({
            concurrency: 1,
            project: retrying(work, { retries: 5, backoffMs: 1, retryIf: () => false }),
          }),
        ),
      ),
    ).rejects.toThrow(/item 1 failed/);
    expect(attempts[1]).toHaveLength(1);
    expect(() => retrying(work, { retries: -1 })).toThrow(BadInputError);
    expect(() => retrying(work, { factor: 0.5 })).toThrow(/factor/);
  });
});
