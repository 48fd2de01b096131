import { BadInputError } from '@rwkv-streams/core';
import { parse as parseVega, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Series } from '../data/read-csv.js';
import type { SeriesForecast } from './model-dir.js';

/** What a forecast chart shows. */
export interface ForecastChartOptions {
  /** The channel drawn (a column name). */
  readonly channel: string;
  /** History rows drawn before the forecast (default 336). */
  readonly historyRows?: number;
  /** Chart title (default: the channel and the lengths). */
  readonly title?: string;
  /** Size in pixels (default 900 x 320). */
  readonly width?: number;
  readonly height?: number;
}

/**
 * One channel's history and forecast as an SVG line chart: a Vega-Lite spec compiled by
 * vega-lite and drawn by vega without a browser or canvas (`sharp(Buffer.from(svg)).png()`
 * rasterizes it). Times are UTC when the series has timestamps, steps otherwise.
 */
export async function forecastChartSvg(
  series: Series,
  forecast: SeriesForecast,
  options: ForecastChartOptions,
): Promise<string> {
  const channel = forecast.columns.indexOf(options.channel);
  if (channel < 0)
    throw new BadInputError(
      `no channel '${options.channel}': the series has ${forecast.columns.join(', ')}`,
      {
        field: 'channel',
      },
    );
  const historyRows = Math.min(options.historyRows ?? 336, series.rows);
  const C = forecast.columns.length;
  const timed = series.timestamps !== undefined && forecast.timestamps !== undefined;
  const at = (ms: number | undefined, step: number) =>
    timed && ms !== undefined ? new Date(ms).toISOString() : step;
  const rows: { t: string | number; value: number; kind: string }[] = [];
  for (let r = series.rows - historyRows; r < series.rows; r++)
    rows.push({
      t: at(series.timestamps?.[r], r - series.rows + 1),
      value: series.values[r * C + channel]!,
      kind: 'history',
    });
  // The forecast line starts at the last observation, so the two lines join.
  rows.push({ ...rows[rows.length - 1]!, kind: 'forecast' });
  for (let r = 0; r < forecast.horizon; r++)
    rows.push({
      t: at(forecast.timestamps?.[r], r + 1),
      value: forecast.values[r * C + channel]!,
      kind: 'forecast',
    });
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title:
      options.title ?? `${options.channel}: ${historyRows} rows of history, ${forecast.horizon} forecast`,
    width: options.width ?? 900,
    height: options.height ?? 320,
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
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
