/**
 * Rolling RWKV-TS forecasts on live streams (CPU backend), through the `rollingForecast`
 * operator:
 *
 *   node --expose-gc bench/dist/rolling-forecast.js [--model models/rwkv-ts-etth1-96]
 *        [--series 1000] [--observations 1000000] [--single 5000] [--batch 256]
 *
 * 1. One series, one observation at a time (each awaited): the latency from an
 *    observation to its forecast, first and last `--single` observations' percentiles.
 * 2. `--series` concurrent series fed in ticks (one observation of every series per tick,
 *    the next tick once the tick's forecasts are out, as a live feed that keeps up): total
 *    `--observations` observations; throughput, per-tick latency, and process memory (RSS,
 *    V8 heap after a GC) at the start, every tenth and the end, which must stay flat.
 *
 * Series are single-channel (RWKV-TS is channel-independent: a 7-channel forecast is 7 of
 * these), values a noisy daily cycle. There is no carried-state variant to compare: every
 * RWKV-TS forecast normalizes its own window (RevIN mean / std) and re-cuts its patches
 * (stride 8) as each row arrives, so no recurrent state from the previous window is exact
 * for the next; each forecast recomputes its 336-row window (42 patches).
 */
import { parseArgs } from 'node:util';
import { liveFeed, loadForecastModel, type RollingForecast, rollingForecast } from '@rwkv-streams/timeseries';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/rwkv-ts-etth1-96' },
    series: { type: 'string', default: '1000' },
    observations: { type: 'string', default: '1000000' },
    single: { type: 'string', default: '5000' },
    batch: { type: 'string', default: '256' },
  },
});
const S = Number(args.series);
const N = Number(args.observations);
const single = Number(args.single);
const gc = (globalThis as { gc?: () => void }).gc;

const value = (key: number, t: number) =>
  Math.sin((2 * Math.PI * t) / 24 + key) + 0.1 * Math.sin(t * 12.9898 + key * 78.233);

function memory(): string {
  gc?.();
  const m = process.memoryUsage();
  return `RSS ${(m.rss / 2 ** 20).toFixed(1)} MiB, heap ${(m.heapUsed / 2 ** 20).toFixed(1)} MiB`;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;

/** Feeds ticks into a rolling forecast; resolves each tick once its forecasts are out. */
function feeder(batch: number, model: ReturnType<typeof loadForecastModel>['model']) {
  const input = liveFeed<number>();
  let pending = 0;
  let done: (() => void) | undefined;
  let emitted = 0;
  const sub = input.source.pipe(rollingForecast({ model, channels: 1, maxBatchSize: batch })).subscribe({
    next: (_f: RollingForecast<number>) => {
      emitted++;
      if (--pending === 0) done?.();
    },
    error: (e: unknown) => {
      throw e;
    },
  });
  const L = model.config.seqLen;
  return {
    /** One observation of each of `keys` at time t; resolves when their forecasts are out. */
    tick(keys: number, t: number): Promise<void> {
      const expect = t >= L - 1 ? keys : 0;
      pending += expect;
      const p =
        expect > 0
          ? new Promise<void>((r) => {
              done = r;
            })
          : Promise.resolve();
      for (let k = 0; k < keys; k++) input.push({ key: k, timestamp: t, values: [value(k, t)] });
      return p;
    },
    get emitted() {
      return emitted;
    },
    close: () => sub.unsubscribe(),
  };
}

const loaded = loadForecastModel(args.model!);
const { model } = loaded;
const L = model.config.seqLen;
console.log(
  `RWKV-TS ${args.model}: lookback ${L}, horizon ${model.config.predLen}, d_model ${model.config.dModel}, ${model.config.nLayer} layers, CPU`,
);

// 1. one series, each observation awaited
{
  const f = feeder(1, model);
  for (let t = 0; t < L - 1; t++) await f.tick(1, t);
  console.log(`single series, start: ${memory()}`);
  const lat: number[] = [];
  for (let i = 0; i < single; i++) {
    const t0 = performance.now();
    await f.tick(1, L - 1 + i);
    lat.push(performance.now() - t0);
  }
  const head = lat.slice(0, Math.min(1000, single));
  const tail = lat.slice(-Math.min(1000, single));
  console.log(
    `single series, ${single} observations: latency first 1000 p50 ${pct(head, 0.5).toFixed(2)} ms p99 ${pct(head, 0.99).toFixed(2)} ms; last 1000 p50 ${pct(tail, 0.5).toFixed(2)} ms p99 ${pct(tail, 0.99).toFixed(2)} ms`,
  );
  console.log(`single series, end: ${memory()}`);
  f.close();
}

// 2. S concurrent series, N observations in ticks of S
{
  const f = feeder(Number(args.batch), model);
  const ticks = Math.ceil(N / S);
  const report = Math.max(1, Math.floor(ticks / 10));
  console.log(`${S} series, tick 0: ${memory()}`);
  const t0 = performance.now();
  let window0 = t0;
  let emitted0 = 0;
  const tickMs: number[] = [];
  for (let t = 0; t < ticks; t++) {
    const s = performance.now();
    await f.tick(S, t);
    if (t >= L - 1) tickMs.push(performance.now() - s);
    if ((t + 1) % report === 0 || t === ticks - 1) {
      const now = performance.now();
      const rate = ((f.emitted - emitted0) / (now - window0)) * 1000;
      const recent = tickMs.slice(-report);
      console.log(
        `${S} series, ${((t + 1) * S).toLocaleString('en')} observations, ${f.emitted.toLocaleString('en')} forecasts: ${rate.toFixed(0)} forecasts/s lately, tick p50 ${recent.length ? pct(recent, 0.5).toFixed(1) : '-'} ms (${recent.length ? (pct(recent, 0.5) / S).toFixed(3) : '-'} ms per observation); ${memory()}`,
      );
      window0 = now;
      emitted0 = f.emitted;
    }
  }
  const s = (performance.now() - t0) / 1000;
  console.log(
    `${S} series: ${(ticks * S).toLocaleString('en')} observations, ${f.emitted.toLocaleString('en')} forecasts in ${s.toFixed(1)} s: ${((ticks * S) / s).toFixed(0)} observations/s, ${(f.emitted / s).toFixed(0)} forecasts/s`,
  );
  f.close();
}
await model.dispose();
