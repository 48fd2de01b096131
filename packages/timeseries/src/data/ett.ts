import { BadInputError } from '@rwkv-streams/core';
import type { Series } from './read-csv.js';

/** One split of a series: rows [start, end) of the original, standardized. */
export interface SplitSeries {
  readonly start: number;
  readonly end: number;
  /** [end - start, channels] row-major, standardized with the training split's statistics. */
  readonly values: Float32Array;
}

/** The standard hourly-ETT protocol's splits and scaler. */
export interface EttSplits {
  readonly train: SplitSeries;
  readonly val: SplitSeries;
  readonly test: SplitSeries;
  /** Per-channel mean and standard deviation of the training rows (population std, as sklearn's StandardScaler). */
  readonly mean: Float64Array;
  readonly std: Float64Array;
}

const MONTH = 30 * 24;

/**
 * The hourly ETT splits as the reference data loader (Dataset_ETT_hour) cuts them: train
 * = the first 12 months, validation the next 4, test the 4 after, each later split starting
 * `lookback` rows early so its first window has history; every channel standardized with
 * the training rows' mean and std.
 */
export function ettHourSplits(series: Series, lookback: number): EttSplits {
  const C = series.columns.length;
  const borders1 = [0, 12 * MONTH - lookback, 16 * MONTH - lookback];
  const borders2 = [12 * MONTH, 16 * MONTH, 20 * MONTH];
  if (series.rows < borders2[2]!)
    throw new BadInputError(
      `the ETT protocol needs ${borders2[2]} hourly rows, the series has ${series.rows}`,
      {
        field: 'series',
      },
    );
  const mean = new Float64Array(C);
  const sq = new Float64Array(C);
  const n = borders2[0]!;
  for (let r = 0; r < n; r++)
    for (let c = 0; c < C; c++) {
      const v = series.values[r * C + c]!;
      mean[c]! += v;
      sq[c]! += v * v;
    }
  const std = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    mean[c]! /= n;
    std[c] = Math.sqrt(Math.max(sq[c]! / n - mean[c]! ** 2, 0)) || 1;
  }
  const cut = (i: number): SplitSeries => {
    const start = borders1[i]!;
    const end = borders2[i]!;
    const values = new Float32Array((end - start) * C);
    for (let r = start; r < end; r++)
      for (let c = 0; c < C; c++)
        values[(r - start) * C + c] = (series.values[r * C + c]! - mean[c]!) / std[c]!;
    return { start, end, values };
  };
  return { train: cut(0), val: cut(1), test: cut(2), mean, std };
}
