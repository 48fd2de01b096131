import { BadInputError, SeededRandom } from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { tinySpeechModel } from '../../test-support/tiny-speech-model.js';
import { TransducerGreedySearch } from '../decode/transducer-greedy.js';
import { computeFbank } from '../features/fbank.js';
import type { EncoderState } from '../model/speech-model.js';
import {
  CLEAN_START_LEADING_SILENCE,
  DEFAULT_LEADING_SILENCE,
  encoderStateAfterSilence,
} from './leading-silence.js';
import { SpeechRecognizer } from './speech-recognizer.js';

/** The start state after silence, over a small random speech model on the CPU backend. */
const model = tinySpeechModel(2, 5);
const { config } = model;
afterAll(() => model.dispose());
const { stack: S, featureDim: F } = config;

function features(frames: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: frames * F }, () => rng.normal());
}

/** Greedy transducer text of whole steps of `x` from encoder state `from`. */
async function greedyFrom(from: EncoderState, x: Float32Array): Promise<number[]> {
  const steps = x.length / (S * F);
  const r = await model.encode(x, steps, from);
  const search = new TransducerGreedySearch(model.prediction, model.joiner, 3);
  await search.accept(r.encoderOut, steps, config.encoder.nEmbd);
  return search.result().map((t) => t.id);
}

describe('encoderStateAfterSilence', () => {
  it('is the state after the filterbank of digital silence, in whole steps, computed once per model and length', async () => {
    const state = await encoderStateAfterSilence(model, 0.5);
    const frames = computeFbank(new Float32Array(8000), { numMelBins: F }); // 48 frames: 12 steps
    expect(frames.length).toBe(48);
    const groups = new Float32Array(12 * S * F);
    frames.forEach((f, j) => {
      groups.set(f, j * F);
    });
    const direct = (await model.encode(groups, 12, model.createEncoderState(1))).state;
    expect(state.stem).toEqual(direct.stem);
    for (const s of [state, direct]) expect(s.rwkv.batch).toBe(1);
    expect(state.rwkv.serialize()).toEqual(direct.rwkv.serialize());
    expect(encoderStateAfterSilence(model, 0.5)).toBe(encoderStateAfterSilence(model, 0.5));
    const fresh = model.createEncoderState(1);
    const none = await encoderStateAfterSilence(model, 0);
    expect(none.stem).toEqual(fresh.stem);
    expect(none.rwkv.serialize()).toEqual(fresh.rwkv.serialize());
  });

  it('refuses a negative or non-finite length, naming the option', () => {
    for (const bad of [-0.1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => encoderStateAfterSilence(model, bad)).toThrow(BadInputError);
    expect(() => new SpeechRecognizer(model, { leadingSilence: -1 }).createStream()).toThrow(
      /leading silence/,
    );
  });
});

describe('the recognizer starts each stream after the leading silence', () => {
  const x = features(4 * 20, 11);

  it('from a zero state by default and with 0, from the state after the silence asked for', async () => {
    expect(DEFAULT_LEADING_SILENCE).toBe(0);
    for (const [lead, from] of [
      [undefined, model.createEncoderState(1)],
      [0, model.createEncoderState(1)],
      [0.2, await encoderStateAfterSilence(model, 0.2)],
      [CLEAN_START_LEADING_SILENCE, await encoderStateAfterSilence(model, CLEAN_START_LEADING_SILENCE)],
    ] as const) {
      const rec = new SpeechRecognizer(model, {
        decodingMethod: 'transducer-greedy',
        ...(lead === undefined ? {} : { leadingSilence: lead }),
      });
      const s = rec.createStream();
      s.acceptFeatures(x);
      s.inputFinished();
      await rec.decodeStreams([s]);
      expect(
        s.result().tokens.map((t) => t.id),
        `leadingSilence ${lead}`,
      ).toEqual(await greedyFrom(from, x));
      expect(s.result().end).toBeCloseTo(20 * 0.04, 9); // times count the audio only
    }
    // the start state does differ from a zero one (else this test could not fail)
    const primed = await encoderStateAfterSilence(model, CLEAN_START_LEADING_SILENCE);
    expect(primed.rwkv.serialize()).not.toEqual(model.createEncoderState(1).rwkv.serialize());
  });

  it('batched streams each start from it, and the shared state is never changed', async () => {
    const primed = await encoderStateAfterSilence(model, CLEAN_START_LEADING_SILENCE);
    const before = { stem: primed.stem.slice(), rwkv: primed.rwkv.serialize() };
    const rec = new SpeechRecognizer(model, {
      decodingMethod: 'transducer-greedy',
      leadingSilence: CLEAN_START_LEADING_SILENCE,
    });
    const inputs = [features(4 * 12, 2), features(4 * 9, 3)];
    const streams = inputs.map((f) => {
      const s = rec.createStream();
      s.acceptFeatures(f);
      s.inputFinished();
      return s;
    });
    await rec.decodeStreams(streams);
    for (const [i, s] of streams.entries())
      expect(s.result().tokens.map((t) => t.id)).toEqual(await greedyFrom(primed, inputs[i]!));
    expect(primed.stem).toEqual(before.stem);
    expect(primed.rwkv.serialize()).toEqual(before.rwkv);
  });
});
