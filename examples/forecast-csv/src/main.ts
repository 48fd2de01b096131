/**
 * Reads an hourly CSV, forecasts the rows after its end with the RWKV-TS model we ship,
 * and writes the forecast with its history as CSV and as a PNG chart:
 *
 *   node examples/forecast-csv/dist/main.js [--csv examples/data/ETTh1-last-1000.csv] [--model models/rwkv-ts-etth1-96]
 *        [--horizon 96] [--history 336] [--channel OT] [--out-dir forecast-out]
 *
 * The chart is a Vega-Lite spec compiled by vega-lite, rendered to SVG by vega (no
 * browser, no canvas), and rasterized to PNG by sharp.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BadInputError } from '@rwkv-streams/core';
import {
  forecastSeries,
  formatForecastCsv,
  formatTimestamp,
  loadForecastModel,
  readSeriesCsv,
  type Series,
  type SeriesForecast,
} from '@rwkv-streams/timeseries';
import sharp from 'sharp';
import { parse as parseVega, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

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

/** One chart row per history / forecast value of the charted channel. */
function chartRows(series: Series, f: SeriesForecast, channel: number, historyRows: number) {
  const C = f.columns.length;
  const at = (ms: number | undefined, step: number) => (ms === undefined ? step : new Date(ms).toISOString());
  const rows: { t: string | number; value: number; kind: string }[] = [];
  for (let r = series.rows - historyRows; r < series.rows; r++)
    rows.push({
      t: at(series.timestamps?.[r], r - series.rows),
      value: series.values[r * C + channel]!,
      kind: 'history',
    });
  // the forecast line starts at the last observation, so the two lines join
  const last = rows[rows.length - 1]!;
  rows.push({ ...last, kind: 'forecast' });
  for (let r = 0; r < f.horizon; r++)
    rows.push({ t: at(f.timestamps?.[r], r), value: f.values[r * C + channel]!, kind: 'forecast' });
  return rows;
}

/** The chart as PNG bytes: Vega-Lite -> Vega -> SVG -> sharp. */
async function chartPng(title: string, rows: ReturnType<typeof chartRows>, timed: boolean): Promise<Buffer> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 900,
    height: 320,
    background: 'white',
    data: { values: rows },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: timed
        ? {
            field: 't',
            type: 'temporal',
            title: 'time (UTC)',
            scale: { type: 'utc' },
            axis: { format: '%b %d %H:%M' },
          }
        : { field: 't', type: 'quantitative', title: 'step' },
      y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
      color: {
        field: 'kind',
        type: 'nominal',
        title: null,
        scale: { domain: ['history', 'forecast'], range: ['#4c78a8', '#e45756'] },
      },
    },
  };
  const view = new View(parseVega(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return sharp(Buffer.from(svg)).png().toBuffer();
}

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
writeFileSync(
  pngPath,
  await chartPng(title, chartRows(series, f, channel, historyRows), f.timestamps !== undefined),
);

const C = f.columns.length;
const last = f.values.subarray((f.horizon - 1) * C, f.horizon * C);
console.log(`read ${series.rows} rows x ${C} channels (${f.columns.join(', ')}) from ${args.csv}`);
console.log(`forecast ${f.horizon} rows from the last ${loaded.card.seqLen} in ${ms.toFixed(0)} ms`);
if (f.timestamps)
  console.log(
    `${formatTimestamp(f.timestamps[f.horizon - 1]!)}: ${f.columns.map((c, i) => `${c} ${last[i]!.toFixed(3)}`).join(', ')}`,
  );
console.log(`wrote ${csvPath} (${historyRows} history + ${f.horizon} forecast rows) and ${pngPath}`);
