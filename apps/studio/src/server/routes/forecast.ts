import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RwkvError } from '@rwkv-streams/core';
import { forecastSeries, formatTimestamp, readSeriesCsv, type Series } from '@rwkv-streams/timeseries';
import { concatMap } from 'rxjs';
import type { ForecastResponse } from '../../protocol.js';
import { measure, type RouteHandler } from '../context.js';
import { modelUnavailable, toHttpError } from '../errors.js';
import { HttpError, readBody, sendJson, uploadName } from '../http.js';
import { describeBytes, textOf } from '../sniff.js';

/** One array per column of rows [from, to) of a [rows, columns] row-major matrix. */
function byColumn(values: Float32Array, columns: number, from: number, to: number): number[][] {
  return Array.from({ length: columns }, (_, c) =>
    Array.from({ length: to - from }, (_, r) => values[(from + r) * columns + c]!),
  );
}

/**
 * Parses the CSV text with the timeseries package's reader (which reads files: the text
 * goes through a temporary file, removed after). Its typed errors name the row and column;
 * the parser's own (an unclosed quote, say) become a 422 too.
 */
async function parseCsv(text: string, name: string): Promise<Series> {
  const dir = await mkdtemp(join(tmpdir(), 'rwkv-studio-'));
  const file = join(dir, 'upload.csv');
  try {
    await writeFile(file, text);
    return await readSeriesCsv(file);
  } catch (err) {
    if (err instanceof RwkvError) throw toHttpError(err, name);
    throw new HttpError(422, `${name} is not a valid CSV: ${(err as Error).message}`, 'MALFORMED_FILE');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `POST /api/forecast` (body: CSV text with a header row, a `date` column and the model's
 * channels; `?name=`; `?horizon=` rows, default and most the model's): the RWKV-TS ETTh1
 * model's forecast after the last row, with the history it looked at, one array per
 * column; through the `forecast.csv` and `forecast` stages.
 */
export const handleForecast: RouteHandler = async (req, res, url, ctx) => {
  const bytes = await readBody(req, ctx.limits.maxUploadBytes);
  const name = uploadName(url, 'the CSV');
  const text = textOf(bytes);
  if (text === undefined)
    throw new HttpError(
      415,
      `${name} is not a CSV text file; it looks like ${describeBytes(bytes)}`,
      'UNSUPPORTED_TYPE',
    );
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  if (!firstLine.includes(','))
    throw new HttpError(
      415,
      `${name} is not a CSV: its first line should be a header of comma-separated column names (date,HUFL,...)`,
      'UNSUPPORTED_TYPE',
    );
  const loaded = await ctx.models.forecaster().catch((err: unknown) => {
    throw modelUnavailable('forecasting', err);
  });
  const { seqLen, predLen } = loaded.card;
  const asked = url.searchParams.get('horizon');
  const horizon = asked === null ? predLen : Number(asked);
  if (!Number.isInteger(horizon) || horizon < 1 || horizon > predLen)
    throw new HttpError(400, `horizon must be a whole number from 1 to ${predLen}`, 'BAD_INPUT');
  const t0 = performance.now();
  const series = await measure(
    ctx,
    'forecast.csv',
    text,
    concatMap((t: string) => parseCsv(t, name)),
  );
  try {
    const f = await measure(
      ctx,
      'forecast',
      series,
      concatMap((s: Series) => forecastSeries(loaded, s, horizon)),
    );
    const C = series.columns.length;
    const from = Math.max(0, series.rows - seqLen);
    const times = (ts: Float64Array | undefined, a: number, b: number) =>
      ts ? { times: Array.from(ts.subarray(a, b), formatTimestamp) } : {};
    const body: ForecastResponse = {
      name,
      columns: series.columns,
      rows: series.rows,
      history: {
        ...times(series.timestamps, from, series.rows),
        values: byColumn(series.values, C, from, series.rows),
      },
      forecast: { ...times(f.timestamps, 0, f.horizon), values: byColumn(f.values, C, 0, f.horizon) },
      horizon: f.horizon,
      ms: Math.round(performance.now() - t0),
    };
    sendJson(res, 200, body);
  } catch (err) {
    throw toHttpError(err, name);
  }
};
