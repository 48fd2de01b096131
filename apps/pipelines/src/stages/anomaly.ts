/**
 * The `anomaly` task: observations through the time-series package's `anomalyScores()`.
 *
 * @module
 */
import { anomalyScores, loadForecastModel } from '@rwkv-streams/timeseries';
import { type ObservationItem, timeLabel } from '../items.js';
import type { StageSpec } from '../schema.js';
import { CallTracker } from './call-tracker.js';
import { checkColumns } from './forecast.js';
import { answerEveryObservation } from './observations.js';
import { round6, type Task } from './task.js';

/**
 * Loads the forecaster of an `anomaly` stage; its result is `{ key, timestamp, score,
 * anomaly, channelScores: { column: score } }`. anomalyScores() scores the n-th observation
 * of a series once a one-step forecast exists for it (n > seqLen) and `warmup` residuals
 * came before it (n >= seqLen + 1 + warmup); earlier ones get no record.
 */
export function anomalyTask(
  spec: Extract<StageSpec, { task: 'anomaly' }>,
  stage: string,
  columns: readonly string[] | undefined,
): Task<ObservationItem> {
  const { card, model } = loadForecastModel(spec.model);
  checkColumns(stage, card.columns, columns);
  const calls = new CallTracker();
  calls.wrap(model, ['forecast']);
  const C = card.columns.length;
  return {
    batchSize: 1,
    operator: answerEveryObservation({
      channels: C,
      answers: (count) => count >= card.seqLen + 1 + spec.warmup,
      model: anomalyScores<string>({
        model,
        channels: C,
        warmup: spec.warmup,
        window: spec.window,
        threshold: spec.threshold,
      }),
      result: (r, item) => ({
        key: item.key,
        timestamp: timeLabel(item),
        score: round6(r.score),
        anomaly: r.anomaly,
        channelScores: Object.fromEntries(card.columns.map((c, i) => [c, round6(r.channelScores[i]!)])),
      }),
    }),
    dispose: async () => {
      await calls.idle();
      await model.dispose();
    },
  };
}
