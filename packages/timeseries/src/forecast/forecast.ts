import { BadInputError, ShapeMismatchError } from '@rwkv-streams/core';
import { mae, mse } from '../metrics/metrics.js';
import type { RwkvTsModel } from '../model/rwkv-ts-model.js';

/**
 * The next `predLen` rows after the last `seqLen` rows of `values` ([rows, channels]
 * row-major): [predLen, channels]. A history shorter than the model's lookback is a
 * BadInputError saying how many rows are needed.
 */
export async function forecastNext(
  model: RwkvTsModel,
  values: Float32Array,
  channels: number,
): Promise<Float32Array> {
  if (!Number.isInteger(channels) || channels < 1 || values.length % channels !== 0)
    throw new ShapeMismatchError(`${values.length} values are not rows of ${channels} channels`, {
      field: 'values',
    });
  const rows = values.length / channels;
  const L = model.config.seqLen;
  if (rows < L)
    throw new BadInputError(`the history has ${rows} rows, the model looks back ${L}`, { field: 'history' });
  return model.forecast(values.subarray((rows - L) * channels), 1, channels);
}

/** What a backtest measured. */
export interface BacktestResult {
  /** Windows evaluated. */
  readonly windows: number;
  /** Over every forecast value of every window and channel. */
  readonly mse: number;
  readonly mae: number;
}

/**
 * Slides a lookback window over `values` ([rows, channels]) by `stride` rows, forecasts
 * the next `predLen` rows from each (`batch` windows per model call) and scores every
 * forecast against what followed: the usual long-term forecasting evaluation (on
 * standardized data it gives the MSE / MAE papers report).
 */
export async function backtest(
  model: RwkvTsModel,
  values: Float32Array,
  channels: number,
  options: { readonly stride?: number; readonly batch?: number } = {},
): Promise<BacktestResult> {
  const { seqLen: L, predLen: H } = model.config;
  const rows = values.length / channels;
  const stride = options.stride ?? 1;
  const starts: number[] = [];
  for (let s = 0; s + L + H <= rows; s += stride) starts.push(s);
  if (starts.length === 0)
    throw new BadInputError(`backtesting needs at least ${L + H} rows (lookback + horizon), got ${rows}`, {
      field: 'values',
    });
  const batch = options.batch ?? 64;
  const actual = new Float32Array(starts.length * H * channels);
  const predicted = new Float32Array(starts.length * H * channels);
  for (let i = 0; i < starts.length; i += batch) {
    const group = starts.slice(i, i + batch);
    const history = new Float32Array(group.length * L * channels);
    group.forEach((s, j) => {
      history.set(values.subarray(s * channels, (s + L) * channels), j * L * channels);
      actual.set(values.subarray((s + L) * channels, (s + L + H) * channels), (i + j) * H * channels);
    });
    predicted.set(await model.forecast(history, group.length, channels), i * H * channels);
  }
  return { windows: starts.length, mse: mse(actual, predicted), mae: mae(actual, predicted) };
}
