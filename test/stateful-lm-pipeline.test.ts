import type { RwkvState } from '@rwkv-streams/core';
import {
  RwkvModel,
  randomRwkvWeights,
  runStateful,
  rwkvStepper,
  type StatefulResult,
} from '@rwkv-streams/core';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';

/**
 * The operators over a real model: interleaved chunks of several streams, batched across
 * streams by runStateful, give exactly what each stream gives when run alone.
 */
describe('runStateful + rwkvStepper over a real RWKV-7 model', () => {
  it('batched, interleaved streams equal isolated runs; a bad chunk fails alone', async () => {
    const { config, tensors } = randomRwkvWeights(
      { version: 7, nLayer: 2, nEmbd: 32, nVocab: 50, headSize: 16, dimFfn: 64 },
      3,
    );
    const model = new RwkvModel(config, tensors);
    const keys = ['a', 'b', 'c', 'd'];
    const chunks = keys.flatMap((key, k) =>
      [0, 1, 2].map((i) => ({ key, i, tokens: [k + i, (k * 7 + i) % 50, 5] })),
    );
    // Interleave: a0 b0 c0 d0 a1 b1 ...
    chunks.sort((x, y) => x.i - y.i);
    const bad = { key: 'b', i: 99, tokens: [500] }; // token outside the vocabulary
    let calls = 0;
    const stepper = rwkvStepper(model);
    const counting = {
      ...stepper,
      step: (batch: Parameters<typeof stepper.step>[0]) => {
        calls++;
        return stepper.step(batch);
      },
    };
    const results = await lastValueFrom(
      from([...chunks.slice(0, 5), bad, ...chunks.slice(5)]).pipe(
        runStateful({ model: counting, key: (c) => c.key, input: (c) => c.tokens, maxBatchSize: 4 }),
        toArray(),
      ),
    );
    expect(results).toHaveLength(chunks.length + 1);
    const failed = results.filter((r) => !r.ok);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.item).toBe(bad);
    expect(calls).toBeLessThan(chunks.length); // streams were batched

    for (const key of keys) {
      const mine = results.filter(
        (
          r,
        ): r is Extract<
          StatefulResult<(typeof chunks)[number], Float32Array, RwkvState, string>,
          { ok: true }
        > => r.ok && r.key === key,
      );
      let state = model.createState();
      for (const r of mine) {
        const alone = await model.forward([r.item.tokens], state);
        state = alone.state;
        let diff = 0;
        for (let v = 0; v < 50; v++) diff = Math.max(diff, Math.abs(alone.logits[v]! - r.output[v]!));
        expect(diff).toBeLessThan(1e-5);
      }
    }
    await model.dispose();
  });
});
