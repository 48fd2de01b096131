import { drawToken, RwkvModel, randomRwkvWeights } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { probeGpu } from '../driver/probe.js';
import '../index.js';

/**
 * `RwkvSession.generate` on CUDA (every draw on the GPU, steps back to back) against the
 * same session's `forward` calls with each token drawn on the host by the core's rule:
 * the logits are the same plan's, so the tokens must be the same; the states after must
 * agree to float32 rounding (bound 1e-5). 40 steps cross the loop's 32-step chunks.
 */
const probe = probeGpu();

describe.skipIf(!probe.ok)(`generate on CUDA (${probe.reason.slice(0, 80)})`, () => {
  it.each([
    [7, 'float16', 1, 0],
    [7, 'float16', 3, 0.9],
    [7, 'float32', 2, 1],
    [5, 'float32', 2, 0.5],
  ] as const)('RWKV-%i, %s weights, %i stream(s), temperature %s', async (version, weightDType, batch, temperature) => {
    const V = 5000;
    const { config, tensors } = randomRwkvWeights(
      { version, nLayer: 2, nEmbd: 128, nVocab: V, headSize: 64 },
      40 + version,
    );
    const model = new RwkvModel(config, tensors, { device: 'cuda', weightDType });
    const prompt = Array.from({ length: batch }, (_, b) => [b + 1, 2 * b + 3, 17]);
    const warm = (await model.forward(prompt, model.createState(batch))).state;
    const seed = 99;
    const steps = 40;
    const ref = await model.openSession(warm);
    let fed = Array.from({ length: batch }, (_, b) => 100 + b);
    const first = fed.slice();
    const want: number[][] = Array.from({ length: batch }, () => []);
    const into = new Float32Array(batch * V);
    for (let s = 0; s < steps; s++) {
      const { logits } = await ref.forward(
        fed.map((t) => [t]),
        { into },
      );
      fed = fed.map((_, b) => drawToken(logits.subarray(b * V, (b + 1) * V), temperature, seed, b, s));
      fed.forEach((t, b) => {
        want[b]!.push(t);
      });
    }
    const session = await model.openSession(warm);
    const got = await session.generate(first, { steps, temperature, seed });
    expect(got.map((t) => [...t])).toEqual(want);
    const [a, b] = [await session.state(), await ref.state()];
    let worst = 0;
    for (let l = 0; l < config.nLayer; l++)
      for (const name of ['att_x', 'wkv', 'ffn_x']) {
        const x = a.get(l, name);
        const y = b.get(l, name);
        for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
      }
    expect(worst).toBeLessThan(1e-5);
    await session.dispose();
    await ref.dispose();
    await model.dispose();
  });
});
