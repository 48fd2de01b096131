import { fileURLToPath } from 'node:url';
import { BadInputError } from '@rwkv-streams/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeFbank } from '../features/fbank.js';
import { loadSpeechModel } from '../model/load-speech-model.js';
import { randomSpeechWeights } from '../model/random-speech-weights.js';
import { SpeechModel } from '../model/speech-model.js';
import { encoderStateAfterSilence } from '../recognizer/leading-silence.js';
import { RwkvVad } from './rwkv-vad.js';

// the parity fixture's small model has a voice-activity head (random weights: only the
// mechanics are tested here; accuracy is bench/src/speech-heldout.ts's job)
const dir = fileURLToPath(new URL('../../fixtures/speech-parity/', import.meta.url));

describe('RwkvVad', () => {
  let model: SpeechModel;
  const audio = Float32Array.from(
    { length: 16000 },
    (_, i) => 0.3 * Math.sin(i * 0.05) * Math.sin(i * 0.0007),
  );
  beforeAll(async () => {
    model = await loadSpeechModel(dir);
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('gives one probability per 40 ms step, the same in any chunking', async () => {
    const whole = new RwkvVad(model, { chunkSteps: 1 });
    const a = [...(await whole.accept(audio)), ...(await whole.flush())];
    expect(a.length).toBe(Math.floor((1 + Math.floor((16000 - 400) / 160)) / 4));
    expect(a.every((p) => p > 0 && p < 1)).toBe(true);
    const pieces = new RwkvVad(model, { chunkSteps: 3 });
    const b: number[] = [];
    for (let o = 0; o < audio.length; o += 1234)
      b.push(...(await pieces.accept(audio.subarray(o, o + 1234))));
    b.push(...(await pieces.flush()));
    expect(b.length).toBe(a.length);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 5);
    pieces.reset();
    const c = [...(await pieces.accept(audio)), ...(await pieces.flush())];
    for (let i = 0; i < a.length; i++) expect(c[i]).toBeCloseTo(a[i]!, 5);
  });

  it('refuses a model without the head, and bad options', () => {
    const { config, tensors } = randomSpeechWeights({
      encoderLayers: 1,
      encoderDim: 64,
      predictorLayers: 1,
      predictorDim: 64,
      joinerDim: 32,
      headSize: 32,
    });
    const headless = SpeechModel.create(config, tensors);
    expect(() => new RwkvVad(headless)).toThrow(BadInputError);
    expect(() => new RwkvVad(model, { chunkSteps: 0 })).toThrow(/chunkSteps/);
    for (const leadingSilence of [-1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => new RwkvVad(model, { leadingSilence })).toThrow(/leadingSilence/);
  });

  it('starts from a zero state by default, from the state after leadingSilence of silence when asked, after reset too', async () => {
    // the probabilities the head gives from a given start state, straight from the model
    const { stack: S, featureDim: F } = model.config;
    const reference = async (seconds: number): Promise<number[]> => {
      const start = await encoderStateAfterSilence(model, seconds);
      const fb = computeFbank(audio, { numMelBins: F });
      const steps = Math.floor(fb.length / S);
      const groups = new Float32Array(steps * S * F);
      for (let j = 0; j < steps * S; j++) groups.set(fb[j]!, j * F);
      const r = await model.encode(groups, steps, start);
      return Array.from(r.vadLogits!, (x) => 1 / (1 + Math.exp(-x)));
    };
    const shared = await encoderStateAfterSilence(model, 0.5);
    const before = shared.stem.slice();
    for (const [options, seconds] of [
      [{}, 0],
      [{ leadingSilence: 0.5 }, 0.5],
      [{ leadingSilence: 0.2 }, 0.2],
      [{ leadingSilence: 0 }, 0],
    ] as const) {
      const want = await reference(seconds);
      const vad = new RwkvVad(model, { chunkSteps: 2, ...options });
      const got = [...(await vad.accept(audio)), ...(await vad.flush())];
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
      vad.reset();
      const again = [...(await vad.accept(audio)), ...(await vad.flush())];
      for (let i = 0; i < want.length; i++) expect(again[i]).toBeCloseTo(want[i]!, 5);
    }
    // the default and 0 differ at the start (else the test above could not fail)
    const zero = await reference(0);
    const lead = await reference(0.5);
    expect(Math.abs(zero[0]! - lead[0]!)).toBeGreaterThan(1e-6);
    expect(shared.stem).toEqual(before);
  });
});
