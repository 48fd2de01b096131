import { SeededRandom } from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { tinySpeechModel } from '../../test-support/tiny-speech-model.js';
import { SpeechRecognizer } from '../recognizer/speech-recognizer.js';
import { measureRealTimeFactor, syntheticSpeechChunk, warmUpRecognizer } from './real-time-factor.js';

const model = tinySpeechModel(1, 5);
afterAll(() => model.dispose());

describe('real-time factor helpers', () => {
  it('synthetic speech: the asked length, speech-loud, the same for the same seed, continuous in time', () => {
    const a = syntheticSpeechChunk(new SeededRandom(1), 0.3);
    const b = syntheticSpeechChunk(new SeededRandom(1), 0.3);
    expect(a).toHaveLength(1600);
    expect(a).toEqual(b);
    expect(syntheticSpeechChunk(new SeededRandom(1), 0, 0.25)).toHaveLength(4000);
    const rms = Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    expect(rms).toBeGreaterThan(0.02);
    expect(Math.max(...a.map(Math.abs))).toBeLessThan(1);
  });

  it('measures processing time over audio time for several streams decoded together', async () => {
    const recognizer = new SpeechRecognizer(model, { decodingMethod: 'transducer-greedy', endpoint: true });
    await warmUpRecognizer(recognizer);
    const rtf = await measureRealTimeFactor(recognizer, 3, 0.5);
    expect(Number.isFinite(rtf)).toBe(true);
    expect(rtf).toBeGreaterThan(0);
  });
});
