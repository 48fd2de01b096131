import { BadInputError } from '@rwkv-streams/core';
import { mad, median } from 'mathjs';
import { concatMap, type OperatorFunction } from 'rxjs';
import type { RwkvTsModel } from '../model/rwkv-ts-model.js';
import { type Observation, SeriesWindows } from './series-windows.js';

/** Options of {@link anomalyScores}. */
export interface AnomalyScoresOptions {
  readonly model: RwkvTsModel;
  /** Channels per observation. */
  readonly channels: number;
  /** Residuals per series and channel the robust scale is taken over (default 200). */
  readonly window?: number;
  /** Residuals needed before scores are emitted (default 20). */
  readonly warmup?: number;
  /** A robust z-score above this flags an anomaly (default 3.5, the usual modified z-score cut). */
  readonly threshold?: number;
}

/** The score of one observation against the forecast made one step earlier. */
export interface AnomalyScore<K = string> {
  readonly key: K;
  readonly timestamp: number;
  /** Observed minus forecast, per channel. */
  readonly residual: Float32Array;
  /** Robust z-score per channel: |r - median| / (1.4826 MAD) over the recent residuals. */
  readonly channelScores: Float64Array;
  /** The largest channel score. */
  readonly score: number;
  /** score > threshold. */
  readonly anomaly: boolean;
}

/**
 * Anomaly scores from forecast residuals on a stream of observations of many series:
 * each observation is compared with the one-step-ahead forecast made from the window
 * before it; the residual is scored against the recent residuals of its series and
 * channel by a robust z-score (median and median absolute deviation, with mathjs), and
 * flagged above `threshold`. Series are scored once their window is full and `warmup`
 * residuals exist. Observations are processed in order (each waits for its forecast).
 */
export function anomalyScores<K>(
  options: AnomalyScoresOptions,
): OperatorFunction<Observation<K>, AnomalyScore<K>> {
  const { model, channels } = options;
  const keep = options.window ?? 200;
  const warmup = options.warmup ?? 20;
  const threshold = options.threshold ?? 3.5;
  if (!(warmup >= 3 && keep >= warmup))
    throw new BadInputError(`need 3 <= warmup (${warmup}) <= window (${keep})`, { field: 'warmup' });
  return (source) => {
    const windows = new SeriesWindows<K>(model.config.seqLen, channels);
    const pending = new Map<K, Float32Array>(); // next-step forecast per series
    const history = new Map<K, number[][]>(); // recent residuals per series, per channel
    return source.pipe(
      concatMap(async (obs) => {
        const out: AnomalyScore<K>[] = [];
        const predicted = pending.get(obs.key);
        if (predicted) {
          const residual = Float32Array.from({ length: channels }, (_, c) => obs.values[c]! - predicted[c]!);
          let past = history.get(obs.key);
          if (!past) {
            past = Array.from({ length: channels }, () => []);
            history.set(obs.key, past);
          }
          if (past[0]!.length >= warmup) {
            const channelScores = Float64Array.from(past, (rs, c) => {
              const scale = 1.4826 * Number(mad(rs));
              const dev = Math.abs(residual[c]! - Number(median(rs)));
              return scale > 0 ? dev / scale : dev > 0 ? Number.POSITIVE_INFINITY : 0;
            });
            const score = Math.max(...channelScores);
            out.push({
              key: obs.key,
              timestamp: obs.timestamp,
              residual,
              channelScores,
              score,
              anomaly: score > threshold,
            });
          }
          past.forEach((rs, c) => {
            rs.push(residual[c]!);
            if (rs.length > keep) rs.shift();
          });
        }
        const window = windows.push(obs);
        if (window) pending.set(obs.key, (await model.forecast(window, 1, channels)).slice(0, channels));
        return out;
      }),
      concatMap((scores) => scores),
    );
  };
}
