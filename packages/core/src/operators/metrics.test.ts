import { concatMap, delay, from, lastValueFrom, map, mergeMap, NEVER, of, throwError, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import { metrics } from './metrics.js';
import { PipelineMetrics } from './pipeline-metrics.js';

describe('metrics()', () => {
  it('counts items in and out, matches results with items for latency, and tracks queue depth', async () => {
    let clock = 0;
    const registry = new PipelineMetrics({ now: () => clock });
    // a stage that takes 10 ms of the test clock per item, one at a time; the source
    // delivers all five first, so up to five wait inside it
    const slow = concatMap((x: number) => {
      clock += 10;
      return of(x * 2);
    });
    const out = await lastValueFrom(from([1, 2, 3, 4, 5]).pipe(metrics(registry, 'double', slow), toArray()));
    expect(out).toEqual([2, 4, 6, 8, 10]);
    const [s] = registry.snapshot();
    expect(s).toMatchObject({ stage: 'double', itemsIn: 5, itemsOut: 5, errors: 0, inFlight: 0 });
    // from() is synchronous and concatMap here too: each item is out before the next enters
    expect(s!.maxInFlight).toBe(1);
    expect(s!.latency.count).toBe(5);
    expect(s!.latency.sum).toBeCloseTo(0.05, 12);
    expect(s!.latency.p50).toBeCloseTo(0.01, 12);
    expect(s!.throughput).toBeCloseTo(5 / 0.05, 9);
  });

  it('sees items queue up inside a slow asynchronous stage', async () => {
    const registry = new PipelineMetrics();
    const slow = concatMap((x: number) => of(x).pipe(delay(5)));
    await lastValueFrom(from([1, 2, 3, 4]).pipe(metrics(registry, 'slow', slow), toArray()));
    const [s] = registry.snapshot();
    expect(s!.maxInFlight).toBe(4);
    expect(s!.latency.max).toBeGreaterThanOrEqual(s!.latency.p50);
    expect(s!.latency.max).toBeGreaterThan(0.015); // the last item waited for three others
  });

  it('one-to-many stages count without latency; errors are counted and passed on', async () => {
    const registry = new PipelineMetrics();
    const twice = mergeMap((x: number) => of(x, x));
    await lastValueFrom(from([1, 2]).pipe(metrics(registry, 'split', twice, { oneToOne: false }), toArray()));
    expect(registry.stage('split').snapshot()).toMatchObject({
      itemsIn: 2,
      itemsOut: 4,
      latency: { count: 0 },
    });

    const failing = map((x: number) => {
      if (x === 2) throw new Error('bad item');
      return x;
    });
    await expect(lastValueFrom(from([1, 2, 3]).pipe(metrics(registry, 'fail', failing)))).rejects.toThrow(
      /bad item/,
    );
    expect(registry.stage('fail').snapshot()).toMatchObject({
      itemsIn: 2,
      itemsOut: 1,
      errors: 1,
      // the failed item will never be answered: dropped, not left in the queue
      dropped: 1,
      inFlight: 0,
    });
    await expect(
      lastValueFrom(
        throwError(() => new Error('x')).pipe(
          metrics(
            registry,
            'src',
            map((v) => v),
          ),
        ),
      ),
    ).rejects.toThrow();
    expect(() => registry.stage('')).toThrow(BadInputError);
    expect(() => new PipelineMetrics({ window: 0 })).toThrow(/window/);
  });

  it('items inside a stage when its consumer unsubscribes count as dropped (one registry, many short streams)', async () => {
    const registry = new PipelineMetrics();
    const never = concatMap((x: number) => (x === 0 ? of(x) : NEVER));
    for (let request = 0; request < 3; request++) {
      const sub = from([0, 1, 2])
        .pipe(metrics(registry, 'request', never))
        .subscribe();
      expect(registry.stage('request').snapshot().inFlight).toBe(2);
      sub.unsubscribe();
    }
    expect(registry.stage('request').snapshot()).toMatchObject({
      itemsIn: 9,
      itemsOut: 3,
      dropped: 6,
      inFlight: 0,
      errors: 0,
    });
  });

  it('matches results with items by key through a stage that drops some', async () => {
    let clock = 0;
    const registry = new PipelineMetrics({ now: () => clock });
    // answers only even items, 5 ms after they enter
    const evens = mergeMap((x: number) => {
      clock += 5;
      return x % 2 === 0 ? [{ of: x }] : [];
    });
    const out = await lastValueFrom(
      from([1, 2, 3, 4, 5]).pipe(
        metrics(registry, 'evens', evens, { match: { item: (x) => x, result: (r) => r.of } }),
        toArray(),
      ),
    );
    expect(out).toEqual([{ of: 2 }, { of: 4 }]);
    // 1 and 3 were passed over by later results; 5 got none before the stage completed
    expect(registry.stage('evens').snapshot()).toMatchObject({
      itemsIn: 5,
      itemsOut: 2,
      dropped: 3,
      inFlight: 0,
      latency: { count: 2, sum: 0.01 },
    });
  });

  it('writes Prometheus text exposition format, labels escaped', async () => {
    let clock = 0;
    const registry = new PipelineMetrics({ now: () => clock });
    const step = map((x: number) => {
      clock += 250;
      return x;
    });
    await lastValueFrom(from([1, 2]).pipe(metrics(registry, 'read "a"\\b', step), toArray()));
    expect(registry.toPrometheus('demo')).toBe(
      [
        '# HELP demo_stage_items_in_total Items that entered the stage.',
        '# TYPE demo_stage_items_in_total counter',
        'demo_stage_items_in_total{stage="read \\"a\\"\\\\b"} 2',
        '# HELP demo_stage_items_out_total Items the stage emitted.',
        '# TYPE demo_stage_items_out_total counter',
        'demo_stage_items_out_total{stage="read \\"a\\"\\\\b"} 2',
        '# HELP demo_stage_items_dropped_total Items the stage answered with no result.',
        '# TYPE demo_stage_items_dropped_total counter',
        'demo_stage_items_dropped_total{stage="read \\"a\\"\\\\b"} 0',
        '# HELP demo_stage_errors_total Errors the stage ended with.',
        '# TYPE demo_stage_errors_total counter',
        'demo_stage_errors_total{stage="read \\"a\\"\\\\b"} 0',
        '# HELP demo_stage_in_flight Items inside the stage (queue depth).',
        '# TYPE demo_stage_in_flight gauge',
        'demo_stage_in_flight{stage="read \\"a\\"\\\\b"} 0',
        '# HELP demo_stage_latency_seconds Seconds from entry to result, per item.',
        '# TYPE demo_stage_latency_seconds summary',
        'demo_stage_latency_seconds{stage="read \\"a\\"\\\\b",quantile="0.5"} 0.25',
        'demo_stage_latency_seconds{stage="read \\"a\\"\\\\b",quantile="0.9"} 0.25',
        'demo_stage_latency_seconds{stage="read \\"a\\"\\\\b",quantile="0.99"} 0.25',
        'demo_stage_latency_seconds_sum{stage="read \\"a\\"\\\\b"} 0.5',
        'demo_stage_latency_seconds_count{stage="read \\"a\\"\\\\b"} 2',
        '',
      ].join('\n'),
    );
  });
});
