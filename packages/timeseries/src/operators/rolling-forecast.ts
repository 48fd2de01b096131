import { BadInputError, batchItems, mapConcurrent, ShapeMismatchError } from '@rwkv-streams/core';
import { from, mergeMap, type OperatorFunction } from 'rxjs';
import type { RwkvTsModel } from '../model/rwkv-ts-model.js';

/** One observation of one series: its key, its time, a value per channel. */
export interface Observation<K = string> {
  readonly key: K;
  readonly timestamp: number;
  readonly values: ArrayLike<number>;
}

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
    const windows = new Map<K, { data: Float32Array; rows: number; last: number }>();
    return source.pipe(
      mergeMap((obs) => {
        if (obs.values.length !== channels)
          throw new ShapeMismatchError(
            `observation of '${String(obs.key)}' has ${obs.values.length} values, expected ${channels}`,
            {
              field: 'values',
            },
          );
        let w = windows.get(obs.key);
        if (!w) {
          w = { data: new Float32Array(L * channels), rows: 0, last: Number.NEGATIVE_INFINITY };
          windows.set(obs.key, w);
        }
        if (!(obs.timestamp > w.last))
          throw new BadInputError(
            `series '${String(obs.key)}': time ${obs.timestamp} does not come after ${w.last}`,
            { field: 'timestamp' },
          );
        w.last = obs.timestamp;
        // Shift the window by one row (L is small: a copy is cheaper than index juggling later).
        if (w.rows === L) w.data.copyWithin(0, channels);
        const row = Math.min(w.rows, L - 1);
        for (let c = 0; c < channels; c++) w.data[row * channels + c] = obs.values[c]!;
        w.rows = Math.min(w.rows + 1, L);
        return w.rows === L ? [{ key: obs.key, timestamp: obs.timestamp, history: w.data.slice() }] : [];
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
