/**
 * The `forecast` task: observations through the time-series package's `rollingForecast()`,
 * one forecast per observation once its series fills the model's window.
 *
 * @module
 */
import { BadInputError, ShapeMismatchError } from '@rwkv-streams/core';
import { loadForecastModel, type RollingForecast, rollingForecast } from '@rwkv-streams/timeseries';
import { map, pipe } from 'rxjs';
import { type ObservationItem, timeLabel } from '../items.js';
import type { StageSpec } from '../schema.js';
import { CallTracker } from './call-tracker.js';
import { answerEveryObservation } from './observations.js';
import { round6, type Task } from './task.js';

/**
 * The model's channels must be the source's: by name when the source has names (a CSV), by
 * count for JSON lines (checked per observation).
 */
export function checkColumns(
  stage: string,
  model: readonly string[],
  source: readonly string[] | undefined,
): void {
  if (source && (source.length !== model.length || source.some((c, i) => c !== model[i])))
    throw new ShapeMismatchError(
      `stage '${stage}': the source's columns are ${source.join(', ')}; the model was trained on ${model.join(', ')} (set source.columns)`,
      { field: 'columns' },
    );
}

/**
 * Loads the forecaster of a `forecast` stage; its result is `{ key, timestamp, columns,
 * forecast: [[...per column], ...per row] }` in the series' units, `horizon` rows after the
 * observation. An observation before its series has the model's look-back window gets no
 * record (counted as passed over).
 */
export function forecastTask(
  spec: Extract<StageSpec, { task: 'forecast' }>,
  stage: string,
  columns: readonly string[] | undefined,
): Task<ObservationItem> {
  const loaded = loadForecastModel(spec.model);
  const { card, model } = loaded;
  checkColumns(stage, card.columns, columns);
  const horizon = spec.horizon ?? card.predLen;
  if (horizon > card.predLen) {
    void model.dispose();
    throw new BadInputError(
      `stage '${stage}': horizon ${horizon}, the model forecasts at most ${card.predLen} rows`,
      {
        field: 'horizon',
      },
    );
  }
  const calls = new CallTracker();
  calls.wrap(model, ['forecast']);
  const C = card.columns.length;
  const batchSize = spec.batchSize ?? 64;
  // standardized as in training (the card's scaling), and scaled back in the result
  const standardize = (values: Float32Array) => values.map((v, c) => (v - card.mean[c]!) / card.std[c]!);
  return {
    batchSize,
    operator: answerEveryObservation<RollingForecast<string>>({
      channels: C,
      answers: (count) => count >= card.seqLen,
      model: pipe(
        map((o: ObservationItem) => ({ key: o.key, timestamp: o.timestamp, values: standardize(o.values) })),
        rollingForecast<string>({ model, channels: C, maxBatchSize: batchSize }),
      ),
      result: (r, item) => ({
        key: item.key,
        timestamp: timeLabel(item),
        columns: [...card.columns],
        forecast: Array.from({ length: horizon }, (_, h) =>
          Array.from({ length: C }, (_, c) => round6(r.forecast[h * C + c]! * card.std[c]! + card.mean[c]!)),
        ),
      }),
    }),
    dispose: async () => {
      await calls.idle();
      await model.dispose();
    },
  };
}
