import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { referenceV5Float64 } from '../../test-support/reference-v5-f64.js';
import { describeRwkvModel } from '../weights/describe.js';
import { loadWeights } from '../weights/load.js';
import { loadRwkvModel } from './load-model.js';

/**
 * Parity with the official reference code (BlinkDL/RWKV-LM and ChatRWKV, run on the GPU
 * machine by training/make_parity_fixtures.py): tiny random models saved by torch.save
 * (read by our safe .pth reader) and the logits the official RNN code computed after each
 * byte of a 12-byte prompt. Independent float32 implementations agree to ~2e-5..6e-5 on
 * these logits (fixtures README), so we require 2e-4 after every step, in both modes.
 *
 * RWKV-5.2 is the exception: on this tiny random model the per-head group norm sees a
 * variance comparable to its eps, which amplifies float32 rounding, and the official
 * float32 code lands 2.1e-3 from the exact (float64) function while we land 3.4e-4 from it
 * (measured with test-support/reference-v5-f64.ts). For v5.2 we therefore require 3e-3
 * against the official logits and 1e-3 against the float64 reference.
 */
const bounds: Record<string, number> = { '4': 2e-4, '5': 3e-3, '6': 2e-4, '7': 2e-4 };

const dir = fileURLToPath(new URL('../../fixtures/official/', import.meta.url));

interface Expected {
  version: string;
  prompt_bytes: number[];
  logits: number[][];
  reference_file: string;
}

describe.each(['4', '5', '6', '7'])('RWKV-%s matches the official reference code', (v) => {
  const expected = JSON.parse(readFileSync(`${dir}tiny-v${v}.expected.json`, 'utf8')) as Expected;

  it(`logits after every byte of the prompt (reference: ${expected.reference_file})`, async () => {
    const model = await loadRwkvModel(`${dir}tiny-v${v}.pth`);
    expect(String(model.config.version)).toBe(v);
    const T = expected.prompt_bytes.length;
    for (const mode of ['recurrent', 'sequence'] as const) {
      const { logits } = await model.forward([expected.prompt_bytes], model.createState(), {
        mode,
        logits: 'all',
      });
      let maxDiff = 0;
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < 256; i++)
          maxDiff = Math.max(maxDiff, Math.abs(logits[t * 256 + i]! - expected.logits[t]![i]!));
      }
      console.log(
        `official RWKV-${v} (${mode}): max |logit diff| over ${T} steps = ${maxDiff.toExponential(3)}`,
      );
      expect(maxDiff).toBeLessThan(bounds[v]!);
      if (v === '5') {
        const exact = referenceV5Float64(
          model.config,
          describeRwkvModel(loadWeights(`${dir}tiny-v5.pth`)).tensors,
          expected.prompt_bytes,
        );
        let fromExact = 0;
        let officialFromExact = 0;
        exact.forEach((row, t) => {
          for (let i = 0; i < 256; i++) {
            fromExact = Math.max(fromExact, Math.abs(logits[t * 256 + i]! - row[i]!));
            officialFromExact = Math.max(officialFromExact, Math.abs(expected.logits[t]![i]! - row[i]!));
          }
        });
        console.log(
          `RWKV-5 (${mode}): max |logit diff| from the float64 reference = ${fromExact.toExponential(3)} (official float32 code: ${officialFromExact.toExponential(3)})`,
        );
        // This tiny model amplifies float32 rounding (the official code itself is ~2e-3 from
        // float64). On the CPU backend we are measured 3.4e-4 from it; a backend summing in
        // another order (CUDA: 1.7e-3 in sequence mode) must be no further than the official
        // float32 code is.
        expect(fromExact).toBeLessThan(model.device === 'cpu' ? 1e-3 : officialFromExact);
      }
    }
    await model.dispose();
  });
});
