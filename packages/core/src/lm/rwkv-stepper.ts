import type { BatchStepper, StepItem, StepResult } from '../operators/stepper.js';
import type { RwkvModel } from '../rwkv/model.js';
import { RwkvState } from '../state/rwkv-state.js';

/**
 * Presents an RwkvModel to the RxJS operators: each item is a chunk of tokens for one
 * stream, the output is the logits after its last token. Items of a batch that have
 * the same length run as one batched forward call; different lengths are grouped.
 */
export function rwkvStepper(
  model: RwkvModel,
  mode: 'recurrent' | 'sequence' = 'sequence',
): BatchStepper<ArrayLike<number>, Float32Array, RwkvState> {
  return {
    initialState: () => model.createState(1),
    validateInput: (tokens) => model.validateTokens(tokens),
    async step(
      batch: readonly StepItem<ArrayLike<number>, RwkvState>[],
    ): Promise<StepResult<Float32Array, RwkvState>[]> {
      const results = new Array<StepResult<Float32Array, RwkvState>>(batch.length);
      const byLength = new Map<number, number[]>();
      batch.forEach((item, i) => {
        const group = byLength.get(item.input.length) ?? [];
        group.push(i);
        byLength.set(item.input.length, group);
      });
      for (const indices of byLength.values()) {
        const state = RwkvState.stack(indices.map((i) => batch[i]!.state));
        const res = await model.forward(
          indices.map((i) => batch[i]!.input),
          state,
          { mode },
        );
        const states = res.state.unstack();
        const V = model.config.nVocab;
        indices.forEach((i, j) => {
          results[i] = { output: res.logits.slice(j * V, (j + 1) * V), state: states[j]! };
        });
      }
      return results;
    },
  };
}
