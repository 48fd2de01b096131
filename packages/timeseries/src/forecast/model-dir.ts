import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BadInputError,
  type Device,
  FileNotFoundError,
  MalformedFileError,
  ShapeMismatchError,
} from '@rwkv-streams/core';
import { ettHourSplits } from '../data/ett.js';
import type { Series } from '../data/read-csv.js';
import { loadRwkvTsWeights } from '../model/load-rwkv-ts.js';
import { RwkvTsModel } from '../model/rwkv-ts-model.js';
import { backtest } from './forecast.js';

/** What a model folder's config.json says (written by training/timeseries/train.py). */
export interface ForecastModelCard {
  readonly columns: readonly string[];
  readonly seqLen: number;
  readonly predLen: number;
  readonly stride: number;
  readonly nHead: number;
  /** Per-channel scaling the model was trained with (the training split's mean and std). */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** Test figures PyTorch computed at export, when the folder has them. */
  readonly testMse?: number;
  readonly testMae?: number;
  readonly first64TestWindowsMse?: number;
}

/** A model folder loaded: the model and its card. */
export interface ForecastModel {
  readonly dir: string;
  readonly card: ForecastModelCard;
  readonly model: RwkvTsModel;
}

/**
 * Loads a model folder (model.pth + config.json, as models/rwkv-ts-etth1-* ship): a
 * missing file is a FileNotFoundError, a config.json without the sizes or scaling a
 * MalformedFileError naming the field.
 */
export function loadForecastModel(dir: string, options: { readonly device?: Device } = {}): ForecastModel {
  const cfgPath = join(dir, 'config.json');
  const pth = join(dir, 'model.pth');
  for (const f of [cfgPath, pth])
    if (!existsSync(f)) throw new FileNotFoundError('model folder file not found', { file: f });
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new MalformedFileError(`not JSON (${(err as Error).message})`, { file: cfgPath });
  }
  for (const field of ['seqLen', 'predLen', 'stride', 'nHead'])
    if (!Number.isInteger(raw[field]))
      throw new MalformedFileError('missing or not an integer', { file: cfgPath, field });
  for (const field of ['columns', 'mean', 'std'])
    if (!Array.isArray(raw[field]) || (raw[field] as unknown[]).length !== (raw.columns as unknown[])?.length)
      throw new MalformedFileError('missing, or not one entry per column', { file: cfgPath, field });
  const card = raw as unknown as ForecastModelCard;
  const { config, tensors } = loadRwkvTsWeights(pth, {
    nHead: card.nHead,
    seqLen: card.seqLen,
    stride: card.stride,
  });
  if (config.predLen !== card.predLen)
    throw new ShapeMismatchError(`config.json says predLen ${card.predLen}, the weights ${config.predLen}`, {
      file: cfgPath,
      field: 'predLen',
    });
  return { dir, card, model: new RwkvTsModel(config, tensors, options) };
}

/** A forecast in the series' own units. */
export interface SeriesForecast {
  readonly columns: readonly string[];
  /** [horizon, channels] row-major. */
  readonly values: Float32Array;
  readonly horizon: number;
  /** Milliseconds since the epoch per forecast row, continuing the series' last step (when it has timestamps). */
  readonly timestamps?: Float64Array;
}

/**
 * The next `horizon` rows (at most the model's predLen) after the series' last `seqLen`
 * rows, in the series' units: standardized with the scaling the model was trained with,
 * forecast, and scaled back. A series whose columns are not the model's (count or names)
 * is a ShapeMismatchError; a horizon beyond the model's, or too short a history, a
 * BadInputError.
 */
export async function forecastSeries(
  { card, model }: ForecastModel,
  series: Series,
  horizon: number = card.predLen,
): Promise<SeriesForecast> {
  const C = card.columns.length;
  if (series.columns.length !== C || series.columns.some((c, i) => c !== card.columns[i]))
    throw new ShapeMismatchError(
      `the series has ${series.columns.length} columns (${series.columns.join(', ')}), the model was trained on ${C} (${card.columns.join(', ')})`,
      { field: 'columns' },
    );
  if (!Number.isInteger(horizon) || horizon < 1 || horizon > card.predLen)
    throw new BadInputError(`horizon ${horizon}: this model forecasts 1 to ${card.predLen} rows`, {
      field: 'horizon',
    });
  const L = card.seqLen;
  if (series.rows < L)
    throw new BadInputError(`the history has ${series.rows} rows, the model looks back ${L}`, {
      field: 'history',
    });
  const history = new Float32Array(L * C);
  const first = series.rows - L;
  for (let r = 0; r < L; r++)
    for (let c = 0; c < C; c++)
      history[r * C + c] = (series.values[(first + r) * C + c]! - card.mean[c]!) / card.std[c]!;
  const out = await model.forecast(history, 1, C);
  const values = new Float32Array(horizon * C);
  for (let r = 0; r < horizon; r++)
    for (let c = 0; c < C; c++) values[r * C + c] = out[r * C + c]! * card.std[c]! + card.mean[c]!;
  const ts = series.timestamps;
  if (!ts || ts.length < 2) return { columns: card.columns, values, horizon };
  // the step: the median of the last (up to 64) gaps, so one irregular gap does not skew it
  const gaps: number[] = [];
  for (let i = Math.max(1, ts.length - 64); i < ts.length; i++) gaps.push(ts[i]! - ts[i - 1]!);
  gaps.sort((a, b) => a - b);
  const step = gaps[gaps.length >> 1]!;
  const timestamps = new Float64Array(horizon);
  for (let r = 0; r < horizon; r++) timestamps[r] = ts[ts.length - 1]! + step * (r + 1);
  return { columns: card.columns, values, horizon, timestamps };
}

/** Test-split accuracy of one model folder. */
export interface EttEvaluation {
  readonly horizon: number;
  readonly windows: number;
  readonly mse: number;
  readonly mae: number;
}

/**
 * The standard hourly-ETT evaluation: the model's horizon on every test window (stride 1;
 * or only the first `windows`), all channels, standardized with the training split's
 * statistics, as the RWKV-TS paper reports it.
 */
export async function evaluateEttTest(
  { card, model }: ForecastModel,
  series: Series,
  options: { readonly windows?: number; readonly batch?: number } = {},
): Promise<EttEvaluation> {
  const C = card.columns.length;
  if (series.columns.length !== C)
    throw new ShapeMismatchError(`the series has ${series.columns.length} columns, the model ${C}`, {
      field: 'columns',
    });
  const { test } = ettHourSplits(series, card.seqLen);
  let values = test.values;
  if (options.windows !== undefined)
    values = values.subarray(
      0,
      Math.min(test.values.length, (options.windows + card.seqLen + card.predLen - 1) * C),
    );
  const r = await backtest(model, values, C, { batch: options.batch ?? 64 });
  return { horizon: card.predLen, windows: r.windows, mse: r.mse, mae: r.mae };
}
