import { EventEmitter } from 'node:events';
import { concatMap, delay, interval, lastValueFrom, map, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import { mapConcurrent } from './map-concurrent.js';
import { untilSignal } from './until-signal.js';

describe('untilSignal()', () => {
  it('on the source: drains (items already inside the stages finish), then completes', async () => {
    const emitter = new EventEmitter();
    const heard: string[] = [];
    const source = interval(2).pipe(map((i) => i + 1));
    const out = lastValueFrom(
      source.pipe(
        untilSignal({ emitter, onSignal: (s) => heard.push(s) }),
        concatMap((x) => of(x).pipe(delay(15))), // a slow stage: items queue inside it
        toArray(),
      ),
    );
    await new Promise((r) => setTimeout(r, 25));
    emitter.emit('SIGTERM');
    const got = await out;
    expect(heard).toEqual(['SIGTERM']);
    // every item that entered came out, in order, though the stage was behind at the signal
    expect(got.length).toBeGreaterThan(2);
    expect(got).toEqual(got.map((_, i) => i + 1));
    expect(emitter.listenerCount('SIGTERM') + emitter.listenerCount('SIGINT')).toBe(0);
  });

  it('at the end: aborts, cancelling work in flight', async () => {
    const emitter = new EventEmitter();
    const aborted: number[] = [];
    const out = lastValueFrom(
      interval(2).pipe(
        mapConcurrent({
          concurrency: 2,
          project: (x, _i, signal) =>
            new Promise<number>((resolve) => {
              const t = setTimeout(() => resolve(x), 1000);
              signal.addEventListener('abort', () => {
                clearTimeout(t);
                aborted.push(x);
              });
            }),
        }),
        untilSignal({ emitter }),
        toArray(),
      ),
    );
    await new Promise((r) => setTimeout(r, 20));
    emitter.emit('SIGINT');
    expect(await out).toEqual([]);
    expect(aborted.length).toBe(2);
    expect(() => untilSignal({ signals: [] })).toThrow(BadInputError);
  });
});
