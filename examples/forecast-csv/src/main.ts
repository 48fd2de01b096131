/**
 * Reads an hourly CSV, forecasts the rows after its end with the RWKV-TS model we ship,
 * and writes the forecast with its history as CSV and as a PNG chart:
 *
 *   node examples/forecast-csv/dist/main.js [--csv examples/data/ETTh1-last-1000.csv] [--model models/rwkv-ts-etth1-96]
 *        [--horizon 96] [--history 336] [--channel OT] [--out-dir forecast-out]
 *
 * The chart is the timeseries package's `forecastChartSvg` (Vega-Lite, drawn to SVG by vega:
 * no browser, no canvas), rasterized to PNG by sharp.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BadInputError } from '@rwkv-streams/core';
import {
  forecastChartSvg,
  forecastSeries,
  formatForecastCsv,
  formatTimestamp,
  loadForecastModel,
  readSeriesCsv,
} from '@rwkv-streams/timeseries';
import sharp from 'sharp';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    csv: { type: 'string', default: join(root, 'examples/data/ETTh1-last-1000.csv') },
    model: { type: 'string', default: join(root, 'models/rwkv-ts-etth1-96') },
    horizon: { type: 'string' },
    history: { type: 'string', default: '336' },
    channel: { type: 'string', default: 'OT' },
    'out-dir': { type: 'string', default: 'forecast-out' },
  },
});

const loaded = loadForecastModel(args.model!);
const series = await readSeriesCsv(args.csv!);
const horizon = args.horizon ? Number(args.horizon) : loaded.card.predLen;
const historyRows = Math.min(Number(args.history), series.rows);
const t0 = performance.now();
const f = await forecastSeries(loaded, series, horizon);
const ms = performance.now() - t0;
await loaded.model.dispose();

const channel = f.columns.indexOf(args.channel!);
if (channel < 0)
  throw new BadInputError(`--channel ${args.channel}: the CSV has ${f.columns.join(', ')}`, {
    field: 'channel',
  });
const outDir = args['out-dir']!;
mkdirSync(outDir, { recursive: true });
const csvPath = join(outDir, 'forecast.csv');
writeFileSync(csvPath, formatForecastCsv(series, f, { historyRows }));
const pngPath = join(outDir, 'forecast.png');
const title = `${args.channel}: ${historyRows} h of history, ${f.horizon} h forecast (RWKV-TS, ${loaded.dir.split('/').pop()})`;
const svg = await forecastChartSvg(series, f, { channel: args.channel!, historyRows, title });
writeFileSync(pngPath, await sharp(Buffer.from(svg)).png().toBuffer());

const C = f.columns.length;
const last = f.values.subarray((f.horizon - 1) * C, f.horizon * C);
console.log(`read ${series.rows} rows x ${C} channels (${f.columns.join(', ')}) from ${args.csv}`);
console.log(`forecast ${f.horizon} rows from the last ${loaded.card.seqLen} in ${ms.toFixed(0)} ms`);
if (f.timestamps)
  console.log(
    `${formatTimestamp(f.timestamps[f.horizon - 1]!)}: ${f.columns.map((c, i) => `${c} ${last[i]!.toFixed(3)}`).join(', ')}`,
  );
console.log(`wrote ${csvPath} (${historyRows} history + ${f.horizon} forecast rows) and ${pngPath}`);
