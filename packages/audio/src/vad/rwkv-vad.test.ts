import { fileURLToPath } from 'node:url';
import { BadInputError } from '@rwkv-streams/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpeechModel } from '../model/load-speech-model.js';
import { randomSpeechWeights } from '../model/random-speech-weights.js';
import { SpeechModel } from '../model/speech-model.js';
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
  });
});
