/**
 * One source, two models, one merged output, measured: hourly transformer readings (ETTh1's
 * last hours) arrive one at a time; the stream is shared by a rolling 24-hour forecast from
 * the 192-hour RWKV-TS model and anomaly scores from the 96-hour one, and their results are
 * merged back into one stream. Each branch is wrapped in `metrics()`, which matches results
 * with readings by timestamp, so the registry knows per stage how many readings went in,
 * how many results came out, how many were passed over (the first 336 hours fill the
 * models' windows), the queue depth and the latency; it is printed at the end in
 * Prometheus text format, as a `/metrics` endpoint would serve it.
 *
 *   node examples/fan-out-metrics/dist/main.js [--csv examples/data/ETTh1-last-1000.csv]
 *        [--rows 600] [--pace-ms 2] [--channel OT]
 *
 * Readings are paced (one every --pace-ms, a live source at 500 readings a second by default)
 * so that latency and queue depth show what a live stream sees; with 0 they arrive all at
 * once and queue inside the stages.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BadInputError, metrics, PipelineMetrics } from '@rwkv-streams/core';
import {
  type AnomalyScore,
  anomalyScores,
  loadForecastModel,
  type Observation,
  type RollingForecast,
  readSeriesCsv,
  rollingForecast,
} from '@rwkv-streams/timeseries';
import { from, interval, lastValueFrom, map, merge, share, toArray, zip } from 'rxjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    csv: { type: 'string', default: join(root, 'examples/data/ETTh1-last-1000.csv') },
    rows: { type: 'string', default: '600' },
    'pace-ms': { type: 'string', default: '2' },
    channel: { type: 'string', default: 'OT' },
  },
});

const forecaster = loadForecastModel(join(root, 'models/rwkv-ts-etth1-192'));
const scorer = loadForecastModel(join(root, 'models/rwkv-ts-etth1-96'));
const series = await readSeriesCsv(args.csv!);
const C = series.columns.length;
const ch = series.columns.indexOf(args.channel!);
if (ch < 0) throw new BadInputError(`no column '${args.channel}' in ${args.csv}`, { field: 'channel' });
const rows = Math.min(Number(args.rows), series.rows);
const readings: Observation[] = Array.from({ length: rows }, (_, r) => ({
  key: 'transformer-1',
  timestamp: series.timestamps?.[r] ?? r,
  values: series.values.subarray(r * C, (r + 1) * C),
}));

type Merged =
  | { readonly branch: 'forecast'; readonly result: RollingForecast }
  | { readonly branch: 'anomaly'; readonly result: AnomalyScore };

const registry = new PipelineMetrics();
const byTime = { item: (o: Observation) => o.timestamp, result: (r: { timestamp: number }) => r.timestamp };
const pace = Number(args['pace-ms']);
const source = (pace > 0 ? zip(from(readings), interval(pace)).pipe(map(([r]) => r)) : from(readings)).pipe(
  share(),
);
const t0 = performance.now();
const merged: Merged[] = await lastValueFrom(
  merge(
    source.pipe(
      metrics(registry, 'rolling-forecast-192h', rollingForecast({ model: forecaster.model, channels: C }), {
        match: byTime,
      }),
      map((result): Merged => ({ branch: 'forecast', result })),
    ),
    source.pipe(
      metrics(
        registry,
        'anomaly-scores-96h',
        anomalyScores({ model: scorer.model, channels: C, warmup: 24 }),
        {
          match: byTime,
        },
      ),
      map((result): Merged => ({ branch: 'anomaly', result })),
    ),
  ).pipe(toArray()),
);
const seconds = (performance.now() - t0) / 1000;
await forecaster.model.dispose();
await scorer.model.dispose();

const forecasts = merged.filter((m) => m.branch === 'forecast');
const scores = merged.filter((m): m is Extract<Merged, { branch: 'anomaly' }> => m.branch === 'anomaly');
const hour = (t: number) =>
  series.timestamps ? new Date(t).toISOString().slice(0, 16).replace('T', ' ') : String(t);
console.log(
  `${rows} readings (one every ${pace} ms) fanned out to two models in ${seconds.toFixed(1)} s: ${forecasts.length} rolling forecasts, ${scores.length} anomaly scores (${scores.filter((s) => s.result.anomaly).length} flagged), merged into one stream of ${merged.length}`,
);
const last = forecasts.at(-1);
if (last?.branch === 'forecast') {
  const next = Array.from({ length: 24 }, (_, h) => last.result.forecast[h * C + ch]!.toFixed(1));
  console.log(`next 24 hours of ${args.channel} after ${hour(last.result.timestamp)}: ${next.join(' ')}`);
}
console.log('\nper-stage metrics:');
for (const s of registry.snapshot())
  console.log(
    `  ${s.stage}: ${s.itemsIn} in, ${s.itemsOut} out, ${s.dropped} passed over (window filling), in flight ${s.inFlight} (max ${s.maxInFlight}), latency p50 ${(s.latency.p50 * 1000).toFixed(1)} ms p99 ${(s.latency.p99 * 1000).toFixed(1)} ms, ${s.throughput.toFixed(0)} results/s`,
  );
console.log('\nPrometheus text format:');
process.stdout.write(registry.toPrometheus());
