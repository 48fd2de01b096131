/**
 * Anomaly scores on a live stream: hourly transformer readings (ETTh1's last 1,000 hours)
 * arrive one at a time; each is compared with the RWKV-TS model's one-step-ahead forecast
 * from the 336 hours before it, and the residual's robust z-score (median / MAD of the
 * recent residuals of its channel) is flagged above a threshold. Faults are injected into
 * a copy of the stream at known hours (a spike, a dropout to zero, a stuck sensor) so the
 * output can be checked: which were found, and what else was flagged.
 *
 *   node examples/anomaly-scores/dist/main.js [--csv examples/data/ETTh1-last-1000.csv]
 *        [--model models/rwkv-ts-etth1-96] [--threshold 6] [--channel OT]
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BadInputError } from '@rwkv-streams/core';
import { type AnomalyScore, anomalyScores, loadForecastModel, readSeriesCsv } from '@rwkv-streams/timeseries';
import { from, lastValueFrom, toArray } from 'rxjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    csv: { type: 'string', default: join(root, 'examples/data/ETTh1-last-1000.csv') },
    model: { type: 'string', default: join(root, 'models/rwkv-ts-etth1-96') },
    threshold: { type: 'string', default: '6' },
    channel: { type: 'string', default: 'OT' },
  },
});

const loaded = loadForecastModel(args.model!);
const series = await readSeriesCsv(args.csv!);
const C = series.columns.length;
const ch = series.columns.indexOf(args.channel!);
if (ch < 0) throw new BadInputError(`no column '${args.channel}' in ${args.csv}`, { field: 'channel' });
const L = loaded.model.config.seqLen;
if (series.rows < L + 200)
  throw new BadInputError(`${args.csv} has ${series.rows} rows; this example needs at least ${L + 200}`, {
    file: args.csv!,
  });

// Faults at known hours after the first window: a spike, a dropout to zero, a stuck sensor.
const values = series.values.slice();
const first = L + 120;
const faults = [
  { name: 'spike (+8 degrees)', at: first, hours: 1, apply: (v: number) => v + 8 },
  { name: 'dropout to 0', at: first + 150, hours: 2, apply: () => 0 },
  {
    name: 'stuck sensor (+5, held)',
    at: first + 300,
    hours: 3,
    apply: () => values[(first + 300) * C + ch]! + 5,
  },
].filter((f) => f.at + f.hours <= series.rows);
for (const f of faults)
  for (let h = 0; h < f.hours; h++) values[(f.at + h) * C + ch] = f.apply(values[(f.at + h) * C + ch]!);

const observations = Array.from({ length: series.rows }, (_, r) => ({
  key: 'transformer-1',
  timestamp: series.timestamps?.[r] ?? r,
  values: values.subarray(r * C, (r + 1) * C),
}));
const t0 = performance.now();
const scores: AnomalyScore[] = await lastValueFrom(
  from(observations).pipe(
    anomalyScores({ model: loaded.model, channels: C, threshold: Number(args.threshold), warmup: 48 }),
    toArray(),
  ),
);
const seconds = (performance.now() - t0) / 1000;
await loaded.model.dispose();

const hourOf = (t: number) =>
  series.timestamps ? new Date(t).toISOString().slice(0, 16).replace('T', ' ') : String(t);
const rowOf = new Map(observations.map((o, r) => [o.timestamp, r]));
const flagged = scores.filter((s) => s.anomaly);
console.log(
  `${series.rows} readings of ${C} channels scored in ${seconds.toFixed(1)} s (${scores.length} scored after the ${L}-hour window and warm-up); threshold ${args.threshold}`,
);
for (const s of flagged) {
  const r = rowOf.get(s.timestamp)!;
  const worst = s.channelScores.indexOf(Math.max(...s.channelScores));
  const fault = faults.find((f) => r >= f.at && r < f.at + f.hours);
  console.log(
    `  ${hourOf(s.timestamp)}  score ${s.score.toFixed(1).padStart(5)} on ${series.columns[worst]}  ${fault ? `<- injected: ${fault.name}` : ''}`,
  );
}
const found = faults.filter((f) =>
  flagged.some((s) => {
    const r = rowOf.get(s.timestamp)!;
    return r >= f.at && r < f.at + f.hours;
  }),
);
const falseAlarms = flagged.filter((s) => {
  const r = rowOf.get(s.timestamp)!;
  return !faults.some((f) => r >= f.at && r < f.at + f.hours + 1);
});
console.log(`found ${found.length}/${faults.length} injected faults; ${falseAlarms.length} other flag(s)`);
