/**
 * The `classify` task: image items through the vision package's `classify()` operator.
 *
 * @module
 */
import { classify, loadVrwkvWeights, readVisionModelCard, VrwkvModel } from '@rwkv-streams/vision';
import { defer, map, tap } from 'rxjs';
import type { ImageItem } from '../items.js';
import { modelFiles } from '../model-files.js';
import type { StageSpec } from '../schema.js';
import { CallTracker } from './call-tracker.js';
import { type Outcome, round6, type Task } from './task.js';

/** Loads the classifier of a `classify` stage; its result is `{ top: [{ label, probability }] }`. */
export function classifyTask(spec: Extract<StageSpec, { task: 'classify' }>): Task<ImageItem> {
  const files = modelFiles('classify', spec.model);
  const card = readVisionModelCard(files.config!);
  const { config, tensors } = loadVrwkvWeights(files.weights);
  const model = new VrwkvModel(config, tensors, spec.threads ? { threads: spec.threads } : {});
  const calls = new CallTracker();
  calls.wrap(model, ['forward']);
  const batchSize = spec.batchSize ?? 8;
  const classifier = classify({
    model,
    preprocess: {
      size: card.imageSize,
      policy: spec.resize,
      mean: card.mean,
      std: card.std,
      channels: card.inChannels,
    },
    labels: card.labels,
    topK: spec.topK,
    batchSize,
    ...(spec.concurrency ? { concurrency: spec.concurrency } : {}),
  });
  return {
    batchSize,
    // classify() numbers its inputs per subscription; the item of each result is found by that number
    operator: (items) =>
      defer(() => {
        const byIndex: ImageItem[] = [];
        return items.pipe(
          tap((item) => byIndex.push(item)),
          map((item) => item.path),
          classifier,
          map((r): Outcome => {
            const item = byIndex[r.index]!;
            delete byIndex[r.index];
            return r.error
              ? { item, error: r.error }
              : {
                  item,
                  result: {
                    top: (r.top ?? []).map((t) => ({ label: t.label, probability: round6(t.probability) })),
                  },
                };
          }),
        );
      }),
    dispose: async () => {
      await calls.idle();
      await model.dispose();
    },
  };
}
