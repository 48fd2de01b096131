import { batchItems, mapConcurrent } from '@rwkv-streams/core';
import { from, mergeMap, type OperatorFunction } from 'rxjs';
import type { RwkvTsModel } from '../model/rwkv-ts-model.js';
import { type Observation, SeriesWindows } from './series-windows.js';

export type { Observation } from './series-windows.js';

/** A forecast made when an observation arrived. */
export interface RollingForecast<K = string> {
  readonly key: K;
  /** The observation's time (the last row of the history used). */
  readonly timestamp: number;
  /** [predLen, channels] row-major. */
  readonly forecast: Float32Array;
}

/** Options of {@link rollingForecast}. */
export interface RollingForecastOptions {
  readonly model: RwkvTsModel;
  /** Channels per observation. */
  readonly channels: number;
  /** Forecasts of up to this many series per model call (default 64). */
  readonly maxBatchSize?: number;
  /** Longest an observation waits to be batched with others, ms (default 0). */
  readonly maxLatencyMs?: number;
}

/**
 * Emits a forecast for every arriving observation once its series has a full lookback
 * window, for any number of series at once (keyed; batched across series per model call).
 * Each forecast recomputes the window: RWKV-TS normalizes every window by its own mean and
 * std (RevIN) and its patches move with each new row, so no recurrent state carries over
 * exactly from one window to the next. Observations of a series must come in time order;
 * a wrong channel count or a time going backwards is a typed error.
 */
export function rollingForecast<K>(
  options: RollingForecastOptions,
): OperatorFunction<Observation<K>, RollingForecast<K>> {
  const { model, channels } = options;
  const L = model.config.seqLen;
  return (source) => {
    const windows = new SeriesWindows<K>(L, channels);
    return source.pipe(
      mergeMap((obs) => {
        const history = windows.push(obs);
        return history ? [{ key: obs.key, timestamp: obs.timestamp, history }] : [];
      }),
      batchItems({ maxBatchSize: options.maxBatchSize ?? 64, maxLatencyMs: options.maxLatencyMs ?? 0 }),
      mapConcurrent({
        concurrency: 1,
        project: async (ready) => {
          const history = new Float32Array(ready.length * L * channels);
          ready.forEach((r, i) => {
            history.set(r.history, i * L * channels);
          });
          const out = await model.forecast(history, ready.length, channels);
          const size = model.config.predLen * channels;
          return ready.map((r, i) => ({
            key: r.key,
            timestamp: r.timestamp,
            forecast: out.slice(i * size, (i + 1) * size),
          }));
        },
      }),
      mergeMap((batch) => from(batch)),
    );
  };
}
