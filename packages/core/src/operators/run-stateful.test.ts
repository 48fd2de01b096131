import { from, type Observable, Subject, take } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { BadInputError, BadStateError } from '../errors.js';
import { type RunStatefulOptions, runStateful, type StatefulResult } from './run-stateful.js';
import type { BatchStepper, StepItem, StepResult } from './stepper.js';

// ---------------------------------------------------------------------------------------
// A real (if tiny) batched stateful model: per stream, a running sum and an order-sensitive
// hash of the inputs, kept in a Float64Array. It records every batch, checks that it never
// sees a released state and counts releases, so the tests can check state ownership.
// ---------------------------------------------------------------------------------------

interface SumState {
  readonly id: number;
  /** [sum, hash, count] */
  readonly data: Float64Array;
}

interface SumOutput {
  readonly sum: number;
  readonly hash: number;
  readonly count: number;
}

interface SumModelOptions {
  /** Milliseconds a step takes (default 0: resolves on the next macrotask). */
  readonly delayMs?: (inputs: readonly number[]) => number;
  /** Whether the step of this batch rejects. */
  readonly fail?: (inputs: readonly number[]) => boolean;
}

const P = 1_000_003;
const hashStep = (hash: number, x: number): number => (hash * 31 + x) % P;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class SumModel implements BatchStepper<number, SumOutput, SumState> {
  private nextId = 0;
  /** States created and not yet released, by id. */
  readonly live = new Map<number, SumState>();
  /** How many times each state id was released. */
  readonly releases = new Map<number, number>();
  /** Inputs of every step call, in call order. */
  readonly batches: number[][] = [];
  /** When each step call was made (Date.now()). */
  readonly batchTimes: number[] = [];
  /** Contract violations seen (use of a released state, double release...). */
  readonly violations: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  constructor(private readonly options: SumModelOptions = {}) {}

  get created(): number {
    return this.nextId;
  }

  /** Makes the next steps wait until `open()` is called. */
  close(): void {
    this.gate = new Promise((resolve) => {
      this.openGate = resolve;
    });
  }

  open(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  private create(sum: number, hash: number, count: number): SumState {
    const state = { id: this.nextId++, data: Float64Array.of(sum, hash, count) };
    this.live.set(state.id, state);
    return state;
  }

  initialState(): SumState {
    return this.create(0, 0, 0);
  }

  async step(batch: readonly StepItem<number, SumState>[]): Promise<StepResult<SumOutput, SumState>[]> {
    const inputs = batch.map((b) => b.input);
    this.batches.push(inputs);
    this.batchTimes.push(Date.now());
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const check = (when: string): void => {
      for (const { state } of batch) {
        if (!this.live.has(state.id)) this.violations.push(`${when}: state ${state.id} used after release`);
      }
    };
    check('start');
    try {
      await sleep(this.options.delayMs?.(inputs) ?? 0);
      if (this.gate) await this.gate;
      check('end');
      if (this.options.fail?.(inputs)) throw new Error(`poisoned batch [${inputs.join(', ')}]`);
      return batch.map(({ input, state }) => {
        const [sum, hash, count] = state.data as unknown as [number, number, number];
        const next = this.create(sum + input, hashStep(hash, input), count + 1);
        return { output: { sum: sum + input, hash: hashStep(hash, input), count: count + 1 }, state: next };
      });
    } finally {
      this.inFlight -= 1;
    }
  }

  releaseState(state: SumState): void {
    this.releases.set(state.id, (this.releases.get(state.id) ?? 0) + 1);
    if (!this.live.delete(state.id)) this.violations.push(`state ${state.id} released twice`);
  }

  /** Every state ever created was released exactly once, and nothing was misused. */
  expectAllReleasedOnce(): void {
    expect(this.violations).toEqual([]);
    expect(this.live.size).toBe(0);
    expect(this.releases.size).toBe(this.created);
    for (const count of this.releases.values()) expect(count).toBe(1);
  }
}

interface Item {
  readonly k: string;
  readonly x: number;
  readonly end?: boolean;
}

type Result = StatefulResult<Item, SumOutput, SumState, string>;

const collect = <T>(source: Observable<T>): Promise<T[]> =>
  new Promise((resolve, reject) => {
    const out: T[] = [];
    source.subscribe({ next: (v) => out.push(v), error: reject, complete: () => resolve(out) });
  });

const byKey = (results: readonly Result[]): Map<string, Result[]> => {
  const map = new Map<string, Result[]>();
  for (const r of results) map.set(r.key, [...(map.get(r.key) ?? []), r]);
  return map;
};

/** What a key's outputs must be when its items run alone, one after another. */
const expectedOutputs = (xs: readonly number[]): SumOutput[] => {
  let sum = 0;
  let hash = 0;
  return xs.map((x, i) => {
    sum += x;
    hash = hashStep(hash, x);
    return { sum, hash, count: i + 1 };
  });
};

const outputs = (results: readonly Result[]): SumOutput[] =>
  results.map((r) => {
    if (!r.ok) throw new Error(`unexpected failure: ${String(r.error)}`);
    return r.output;
  });

/** A small seeded PRNG (mulberry32), so random interleavings are reproducible. */
const random = (seed: number): (() => number) => {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const sumOp = (
  model: SumModel,
  extra: Partial<RunStatefulOptions<Item, number, SumOutput, SumState, string>> = {},
) =>
  runStateful<Item, number, SumOutput, SumState, string>({
    model,
    key: (item) => item.k,
    input: (item) => item.x,
    endOf: (item) => item.end === true,
    ...extra,
  });

describe('runStateful', () => {
  it('runs the items of each key strictly in order, each seeing the previous state', async () => {
    const rand = random(1);
    const model = new SumModel({ delayMs: () => Math.floor(rand() * 4) });
    const items: Item[] = [];
    for (let n = 1; n <= 6; n++)
      for (const k of ['a', 'b', 'c']) items.push({ k, x: n * (k.charCodeAt(0) - 96) });
    const results = await collect(from(items).pipe(sumOp(model, { maxBatchSize: 2 })));

    expect(results).toHaveLength(18);
    const grouped = byKey(results);
    for (const k of ['a', 'b', 'c']) {
      const mine = items.filter((i) => i.k === k);
      expect(grouped.get(k)!.map((r) => r.item)).toEqual(mine);
      expect(outputs(grouped.get(k)!)).toEqual(expectedOutputs(mine.map((i) => i.x)));
    }
    // A batch never holds two items of one key; here each batch is two distinct keys.
    for (const batch of model.batches) expect(batch.length).toBeLessThanOrEqual(2);
    model.expectAllReleasedOnce();
  });

  it('batches the items of different keys that are pending together, up to maxBatchSize', async () => {
    const model = new SumModel();
    const eight = Array.from({ length: 8 }, (_, i) => ({ k: `k${i}`, x: i + 1 }));
    await collect(from(eight).pipe(sumOp(model, { maxBatchSize: 4 })));
    expect(model.batches.map((b) => b.length)).toEqual([4, 4]);
    expect(model.batches).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    model.expectAllReleasedOnce();

    // Two items per key: a key's second item waits for its first, keys are served first come first served.
    const twice = new SumModel();
    const items = [...eight, ...eight.map((i) => ({ ...i, x: i.x * 10 }))];
    const results = await collect(from(items).pipe(sumOp(twice, { maxBatchSize: 4 })));
    expect(twice.batches).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [10, 20, 30, 40],
      [50, 60, 70, 80],
    ]);
    for (const [k, rs] of byKey(results)) {
      const x = Number(k.slice(1)) + 1;
      expect(outputs(rs).map((o) => o.sum)).toEqual([x, 11 * x]);
    }
    twice.expectAllReleasedOnce();

    // Default maxBatchSize: everything ready goes in one step.
    const all = new SumModel();
    await collect(from(eight).pipe(sumOp(all)));
    expect(all.batches.map((b) => b.length)).toEqual([8]);
  });

  it('waits at most maxLatencyMs for a batch to fill, and not at all once it is full', async () => {
    const model = new SumModel();
    const source = new Subject<Item>();
    const results: Result[] = [];
    const sub = source
      .pipe(sumOp(model, { maxBatchSize: 3, maxLatencyMs: 60 }))
      .subscribe((r) => results.push(r));
    const t0 = Date.now();
    source.next({ k: 'a', x: 1 });
    await sleep(15);
    source.next({ k: 'b', x: 2 });
    await sleep(15);
    expect(model.batches).toEqual([]); // still filling
    await sleep(80);
    expect(model.batches).toEqual([[1, 2]]);
    const waited = model.batchTimes[0]! - t0;
    expect(waited).toBeGreaterThanOrEqual(55);
    expect(waited).toBeLessThan(105); // measured from the first item, not the second
    expect(results.map((r) => r.key)).toEqual(['a', 'b']);

    // A full batch goes at once.
    const t1 = Date.now();
    source.next({ k: 'c', x: 3 });
    source.next({ k: 'd', x: 4 });
    source.next({ k: 'e', x: 5 });
    await sleep(20);
    expect(model.batches[1]).toEqual([3, 4, 5]);
    expect(model.batchTimes[1]! - t1).toBeLessThan(30);
    sub.unsubscribe();
    model.expectAllReleasedOnce();
  });

  it('with maxLatencyMs 0 batches a synchronous burst and flushes on completion', async () => {
    const model = new SumModel();
    const source = new Subject<Item>();
    const done = collect(source.pipe(sumOp(model, { maxLatencyMs: 0 })));
    for (let i = 0; i < 5; i++) source.next({ k: `k${i}`, x: i });
    await sleep(5);
    source.next({ k: 'k9', x: 9 });
    source.complete(); // pending items are sent at once on completion
    const results = await done;
    expect(model.batches).toEqual([[0, 1, 2, 3, 4], [9]]);
    expect(results).toHaveLength(6);
    model.expectAllReleasedOnce();
  });

  it('keeps the states of keys apart: interleaved keys give what each gives alone', async () => {
    const rand = random(42);
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
    const items: Item[] = [];
    for (let i = 0; i < 60; i++) {
      const k = keys[Math.floor(rand() * keys.length)]!;
      items.push({ k, x: Math.floor(rand() * 1000) - 500 });
    }
    const model = new SumModel({ delayMs: () => Math.floor(rand() * 3) });
    const source = new Subject<Item>();
    const done = collect(source.pipe(sumOp(model, { maxBatchSize: 3, maxLatencyMs: 2 })));
    for (const item of items) {
      source.next(item);
      if (rand() < 0.3) await sleep(Math.floor(rand() * 3));
    }
    source.complete();
    const together = byKey(await done);
    expect(model.batches.some((b) => b.length > 1)).toBe(true); // they really shared steps
    model.expectAllReleasedOnce();

    for (const k of keys) {
      const mine = items.filter((i) => i.k === k);
      const aloneModel = new SumModel();
      const alone = await collect(from(mine).pipe(sumOp(aloneModel)));
      expect(outputs(together.get(k) ?? [])).toEqual(outputs(alone));
      expect(outputs(alone)).toEqual(expectedOutputs(mine.map((i) => i.x)));
    }
  });

  it('reports the items of a failing batch as failures, without advancing their state or ending the stream', async () => {
    const model = new SumModel({ fail: (inputs) => inputs.includes(999) });
    const items: Item[] = [
      { k: 'a', x: 1 },
      { k: 'b', x: 10 },
      { k: 'a', x: 999 },
      { k: 'b', x: 20 },
      { k: 'a', x: 2 },
      { k: 'b', x: 30 },
    ];
    const results = await collect(from(items).pipe(sumOp(model)));
    expect(model.batches).toEqual([
      [1, 10],
      [999, 20],
      [2, 30],
    ]);
    const a = byKey(results).get('a')!;
    const b = byKey(results).get('b')!;
    expect(a.map((r) => r.ok)).toEqual([true, false, true]);
    expect(b.map((r) => r.ok)).toEqual([true, false, true]);
    const failure = a[1]!;
    expect(failure.ok).toBe(false);
    if (!failure.ok) {
      expect((failure.error as Error).message).toBe('poisoned batch [999, 20]');
      expect(failure.item).toEqual({ k: 'a', x: 999 });
    }
    // The failed inputs were not applied: a is 1 + 2, b is 10 + 30.
    expect(a[2]!.ok && a[2]!.output.sum).toBe(3);
    expect(b[2]!.ok && b[2]!.output.sum).toBe(40);
    expect(b[2]!.ok && b[2]!.output.count).toBe(2);
    model.expectAllReleasedOnce();
  });

  it('isolates throws of input(), of a synchronous step and a step returning the wrong number of results', async () => {
    const model = new SumModel();
    const results = await collect(
      from<Item[]>([
        { k: 'a', x: 1 },
        { k: 'a', x: -1 },
        { k: 'a', x: 2 },
      ]).pipe(
        sumOp(model, {
          input: (item) => {
            if (item.x < 0) throw new Error('negative');
            return item.x;
          },
        }),
      ),
    );
    expect(results.map((r) => (r.ok ? r.output.sum : (r.error as Error).message))).toEqual([
      1,
      'negative',
      3,
    ]);
    model.expectAllReleasedOnce();

    // A model that throws synchronously, then one that returns too few results.
    let calls = 0;
    const inner = new SumModel();
    const flaky: BatchStepper<number, SumOutput, SumState> = {
      initialState: () => inner.initialState(),
      releaseState: (s) => inner.releaseState(s),
      step: (batch) => {
        calls += 1;
        if (calls === 1) throw new Error('sync throw');
        if (calls === 2) {
          // Too few results: the state it drops is its own to free; the operator must free the other.
          return inner.step(batch).then((r) => {
            inner.releaseState(r[0]!.state);
            return r.slice(1);
          });
        }
        return inner.step(batch);
      },
    };
    const out = await collect(
      from<Item[]>([
        { k: 'a', x: 1 },
        { k: 'b', x: 2 },
        { k: 'a', x: 3 },
        { k: 'b', x: 4 },
        { k: 'a', x: 5 },
        { k: 'b', x: 6 },
      ]).pipe(
        runStateful<Item, number, SumOutput, SumState, string>({
          model: flaky,
          key: (i) => i.k,
          input: (i) => i.x,
        }),
      ),
    );
    const summary = out.map((r) => (r.ok ? r.output.sum : (r.error as Error).constructor.name));
    expect(summary).toEqual(['Error', 'Error', 'BadStateError', 'BadStateError', 5, 6]);
    const bad = out[2]!;
    expect(!bad.ok && bad.error).toBeInstanceOf(BadStateError);
    inner.expectAllReleasedOnce();
  });

  it('on unsubscribe releases every state exactly once and makes no further step call', async () => {
    const model = new SumModel();
    const source = new Subject<Item>();
    const results: Result[] = [];
    const sub = source.pipe(sumOp(model, { maxBatchSize: 2 })).subscribe((r) => results.push(r));
    for (let i = 0; i < 5; i++) source.next({ k: `k${i}`, x: i + 1 });
    await sleep(20);
    expect(results).toHaveLength(5);
    expect(model.live.size).toBe(5); // one state per key (initial states released when superseded)

    model.close(); // the next step hangs
    source.next({ k: 'k0', x: 10 });
    source.next({ k: 'k1', x: 10 });
    source.next({ k: 'k2', x: 10 }); // waits: one step at a time
    await sleep(10);
    expect(model.batches).toHaveLength(4);
    expect(model.inFlight).toBe(1);

    sub.unsubscribe();
    // Idle keys are released at once; k0 and k1 are in the step in flight and are not touched.
    expect(model.live.size).toBe(2);
    source.next({ k: 'k3', x: 1 });
    source.next({ k: 'k4', x: 1 });

    model.open();
    await sleep(20);
    expect(results).toHaveLength(5); // the in-flight results were dropped
    expect(model.batches).toHaveLength(4); // and no step was made after unsubscribe
    model.expectAllReleasedOnce(); // inputs and outputs of the in-flight step included
  });

  it('releases everything when a subscriber unsubscribes while results are being delivered', async () => {
    const model = new SumModel();
    const items = Array.from({ length: 6 }, (_, i) => ({ k: `k${i}`, x: i }));
    const source = new Subject<Item>();
    const got = collect(source.pipe(sumOp(model, { maxBatchSize: 4 }), take(2)));
    for (const item of items) source.next(item);
    expect(await got).toHaveLength(2);
    await sleep(20);
    expect(model.batches).toHaveLength(1); // the second batch was never sent
    model.expectAllReleasedOnce();
  });

  it('releases the state of a key ended by endOf, and starts it afresh afterwards', async () => {
    const model = new SumModel();
    const source = new Subject<Item>();
    const results: Result[] = [];
    const liveAtDelivery: boolean[] = [];
    const sub = source.pipe(sumOp(model)).subscribe((r) => {
      results.push(r);
      if (r.ok) liveAtDelivery.push(model.live.has(r.state.id));
    });
    source.next({ k: 'a', x: 1 });
    source.next({ k: 'b', x: 100 });
    source.next({ k: 'a', x: 2 });
    source.next({ k: 'a', x: 3, end: true });
    await sleep(30);
    expect(results.filter((r) => r.key === 'a').map((r) => r.last)).toEqual([false, false, true]);
    expect(liveAtDelivery.every(Boolean)).toBe(true); // a result's state is valid while it is delivered
    expect(model.live.size).toBe(1); // only b's state is held: a's was released when it ended
    expect(model.violations).toEqual([]);

    source.next({ k: 'a', x: 5 });
    source.next({ k: 'b', x: 1, end: true });
    await sleep(20);
    const last = results.at(-2)!;
    expect(last.key).toBe('a');
    expect(last.ok && last.output).toEqual({ sum: 5, hash: 5, count: 1 }); // a fresh stream
    expect(model.live.size).toBe(1); // the new a
    sub.unsubscribe();
    model.expectAllReleasedOnce();
  });

  it('ends keys named by endKeys after their pending items, and a failed last item still ends its key', async () => {
    const model = new SumModel({ fail: (inputs) => inputs.includes(666) });
    const source = new Subject<Item>();
    const ends = new Subject<string>();
    const results: Result[] = [];
    const sub = source.pipe(sumOp(model, { endKeys: ends })).subscribe((r) => results.push(r));
    source.next({ k: 'a', x: 1 });
    source.next({ k: 'a', x: 2 });
    source.next({ k: 'b', x: 7 });
    ends.next('a'); // after a's two pending items
    ends.next('zzz'); // unknown: ignored
    await sleep(30);
    expect(results.filter((r) => r.key === 'a').map((r) => r.ok && r.output.sum)).toEqual([1, 3]);
    expect(model.live.size).toBe(1); // b only

    source.next({ k: 'b', x: 666, end: true }); // fails, but still ends b
    await sleep(20);
    source.next({ k: 'a', x: 4 });
    await sleep(20);
    const b = results.filter((r) => r.key === 'b');
    expect(b.map((r) => [r.ok, r.last])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(results.at(-2)!.ok).toBe(false);
    expect(results.find((r) => r.key === 'a' && r.ok && r.output.sum === 4)).toBeDefined(); // fresh a
    expect(model.live.size).toBe(1); // the new a
    sub.unsubscribe();
    model.expectAllReleasedOnce();
  });

  it('batches results fed back into the source while they are delivered (autoregressive loop)', async () => {
    const model = new SumModel();
    const source = new Subject<Item>();
    const results: Result[] = [];
    const done = new Promise<void>((resolve) => {
      source.pipe(sumOp(model)).subscribe((r) => {
        results.push(r);
        if (r.ok && r.output.count < 5) source.next({ k: r.key, x: 1, end: r.output.count === 4 });
        if (results.length === 20) resolve();
      });
    });
    for (const k of ['a', 'b', 'c', 'd']) source.next({ k, x: 1 });
    await done;
    expect(model.batches.map((b) => b.length)).toEqual([4, 4, 4, 4, 4]);
    for (const rs of byKey(results).values()) expect(outputs(rs).map((o) => o.sum)).toEqual([1, 2, 3, 4, 5]);
    source.complete();
    model.expectAllReleasedOnce();
  });

  it('runs up to `concurrency` steps at once, never two items of one key together', async () => {
    const rand = random(7);
    const model = new SumModel({ delayMs: () => 1 + Math.floor(rand() * 5) });
    const inFlightKeys = new Set<string>();
    const overlaps: string[] = [];
    const tracked: BatchStepper<number, SumOutput, SumState> = {
      initialState: () => model.initialState(),
      releaseState: (s) => model.releaseState(s),
      step: async (batch) => {
        const ks = batch.map((b) => String(Math.floor(b.input / 100)));
        for (const k of ks) {
          if (inFlightKeys.has(k)) overlaps.push(k);
          inFlightKeys.add(k);
        }
        try {
          return await model.step(batch);
        } finally {
          for (const k of ks) inFlightKeys.delete(k);
        }
      },
    };
    const items: Item[] = [];
    for (let n = 1; n <= 4; n++) for (let k = 0; k < 6; k++) items.push({ k: String(k), x: k * 100 + n });
    const results = await collect(
      from(items).pipe(
        runStateful<Item, number, SumOutput, SumState, string>({
          model: tracked,
          key: (i) => i.k,
          input: (i) => i.x,
          maxBatchSize: 2,
          concurrency: 2,
        }),
      ),
    );
    expect(overlaps).toEqual([]);
    expect(model.maxInFlight).toBe(2);
    for (const [k, rs] of byKey(results)) {
      const mine = items.filter((i) => i.k === k);
      expect(outputs(rs)).toEqual(expectedOutputs(mine.map((i) => i.x)));
    }
    model.expectAllReleasedOnce();
  });

  it('on a source error or a throwing key(), errors the output and still releases every state', async () => {
    const model = new SumModel();
    model.close();
    const source = new Subject<Item>();
    const failed = collect(source.pipe(sumOp(model)));
    source.next({ k: 'a', x: 1 });
    await sleep(5); // a's step is in flight
    source.next({ k: 'b', x: 1 });
    source.error(new Error('source broke'));
    await expect(failed).rejects.toThrow('source broke');
    model.open();
    await sleep(10);
    expect(model.batches).toHaveLength(1);
    model.expectAllReleasedOnce();

    const other = new SumModel();
    const thrown = collect(
      from<Item[]>([
        { k: 'a', x: 1 },
        { k: '', x: 2 },
      ]).pipe(
        sumOp(other, {
          key: (i) => {
            if (i.k === '') throw new Error('no key');
            return i.k;
          },
        }),
      ),
    );
    await expect(thrown).rejects.toThrow('no key');
    await sleep(10);
    other.expectAllReleasedOnce();
  });

  it('works with plain-value states and models without releaseState', async () => {
    const counter: BatchStepper<string, string, number> = {
      initialState: () => 0,
      step: async (batch) =>
        batch.map(({ input, state }) => ({ output: `${input}#${state + 1}`, state: state + 1 })),
    };
    const results = await collect(
      from(['x', 'y', 'x', 'x', 'y']).pipe(
        runStateful({ model: counter, key: (s: string) => s, input: (s) => s }),
      ),
    );
    // Per key in order; across keys, batch by batch: [x, y], [x, y], [x].
    expect(results.map((r) => r.ok && r.output)).toEqual(['x#1', 'y#1', 'x#2', 'y#2', 'x#3']);
    // initialState per key
    const seeded = await collect(
      from([1, 2, 1]).pipe(
        runStateful({ model: counter, key: (n: number) => n, input: String, initialState: (k) => k * 100 }),
      ),
    );
    expect(seeded.map((r) => r.ok && r.state)).toEqual([101, 201, 102]);
  });

  it('rejects bad options with BadInputError', () => {
    const model = new SumModel();
    const base = { model, key: (i: Item) => i.k, input: (i: Item) => i.x };
    expect(() => runStateful({ ...base, maxBatchSize: 0 })).toThrow(BadInputError);
    expect(() => runStateful({ ...base, maxBatchSize: 2.5 })).toThrow(BadInputError);
    expect(() => runStateful({ ...base, maxLatencyMs: -1 })).toThrow(BadInputError);
    expect(() => runStateful({ ...base, maxLatencyMs: Number.NaN })).toThrow(BadInputError);
    expect(() => runStateful({ ...base, concurrency: 0 })).toThrow(BadInputError);
    expect(() =>
      runStateful({ ...base, model: null as unknown as BatchStepper<number, SumOutput, SumState> }),
    ).toThrow(BadInputError);
    expect(() => runStateful({ ...base, key: undefined as unknown as (i: Item) => string })).toThrow(
      BadInputError,
    );
    try {
      runStateful({ ...base, concurrency: 0 });
    } catch (error) {
      expect((error as BadInputError).field).toBe('concurrency');
    }
  });
});
