import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  haveRwkvCppFixtures,
  RWKV_CPP_PROMPT,
  rwkvCppFixtureDir,
} from '../../test-support/shared-fixtures.js';
import { loadRwkvModel } from './load-model.js';

/**
 * The tiny trained models of rwkv.cpp, with the logits rwkv.cpp computes for the FP32
 * files, pin our blocks to an implementation we did not write.
 *
 * Bounds: FP32 files must match rwkv.cpp within 1e-3 (we measure ~3e-6: float32 rounding
 * in a different op order). FP16 and Q5_1 files are compared with the same expected
 * logits, so their difference is the weight quantization error propagated through the
 * network: FP16 rounds each weight to 11 significant bits (relative error <= 2^-11),
 * Q5_1 to 32 levels per block of 32 (error up to (max - min) / 62 per weight).
 * Measured (printed by the test): FP16 <= 2.6e-3 (v4 1.6e-3, v5.2 2.5e-3; the v7 FP16 file
 * keeps its small tensors in float32 and differs by < 1e-6), Q5_1 0.37. The bounds, 0.01
 * for FP16 and 0.75 for Q5_1, are about 2-4x those figures: a mis-decoded block or a
 * wrong scale moves logits by whole units and fails them.
 */
const cases = [
  { name: '4v0-660K', precisions: { FP32: 1e-3, FP16: 0.01 } },
  { name: '5v2-730K', precisions: { FP32: 1e-3, FP16: 0.01, Q5_1: 0.75 } },
  { name: '7v0-834K', precisions: { FP32: 1e-3, FP16: 0.01 } },
] as const;

function expectedLogits(name: string): Float32Array {
  const buf = readFileSync(join(rwkvCppFixtureDir, `expected-logits-${name}.bin`));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

describe.skipIf(!haveRwkvCppFixtures)('rwkv.cpp fixtures (../shared/fixtures/rwkv-cpp)', () => {
  for (const c of cases) {
    for (const [precision, bound] of Object.entries(c.precisions)) {
      it(`${c.name} ${precision}: recurrent and sequence logits match rwkv.cpp within ${bound}`, async () => {
        const expected = expectedLogits(c.name);
        const model = await loadRwkvModel(join(rwkvCppFixtureDir, `tiny-rwkv-${c.name}-${precision}.bin`));
        for (const mode of ['recurrent', 'sequence'] as const) {
          const { logits } = await model.forward([RWKV_CPP_PROMPT], model.createState(), { mode });
          expect(logits.length).toBe(256);
          let maxDiff = 0;
          for (let i = 0; i < 256; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i]! - expected[i]!));
          console.log(
            `rwkv.cpp ${c.name} ${precision} ${mode}: max |logit - expected| = ${maxDiff.toExponential(3)} (bound ${bound})`,
          );
          expect(maxDiff).toBeLessThan(bound);
        }
        await model.dispose();
      });
    }
  }
});

if (!haveRwkvCppFixtures)
  console.warn(`rwkv.cpp fixtures not found at ${rwkvCppFixtureDir}: fixture tests skipped`);
