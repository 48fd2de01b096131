import type { Series } from '../data/read-csv.js';
import type { SeriesForecast } from './model-dir.js';

/** A timestamp as the ETT files write it (UTC): `2018-06-26 19:00:00`. */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

/**
 * A forecast as CSV text: a header (`date` when there are timestamps, `kind`, then the
 * channels), the last `historyRows` rows of the series marked `history`, then the
 * forecast rows marked `forecast`. Without timestamps the first column is `step`: the row
 * index relative to the first forecast row (history negative).
 */
export function formatForecastCsv(
  series: Series,
  forecast: SeriesForecast,
  options: { readonly historyRows?: number } = {},
): string {
  const C = forecast.columns.length;
  const keep = Math.min(options.historyRows ?? 0, series.rows);
  const timed = series.timestamps !== undefined && forecast.timestamps !== undefined;
  const lines = [[timed ? 'date' : 'step', 'kind', ...forecast.columns].join(',')];
  const num = (v: number) => String(Number(v.toPrecision(7)));
  for (let r = series.rows - keep; r < series.rows; r++) {
    const at = timed ? formatTimestamp(series.timestamps![r]!) : String(r - series.rows);
    const row = Array.from(series.values.subarray(r * C, (r + 1) * C), num);
    lines.push([at, 'history', ...row].join(','));
  }
  for (let r = 0; r < forecast.horizon; r++) {
    const at = timed ? formatTimestamp(forecast.timestamps![r]!) : String(r);
    const row = Array.from(forecast.values.subarray(r * C, (r + 1) * C), num);
    lines.push([at, 'forecast', ...row].join(','));
  }
  return `${lines.join('\n')}\n`;
}
