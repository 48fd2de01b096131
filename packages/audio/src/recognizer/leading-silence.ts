/**
 * The encoder state a stream starts from: the state after a moment of digital silence
 * rather than all zeros.
 *
 * Why: the shipped speech model misses the first word of an utterance whose speech starts at
 * once from a zero state. It was trained on utterances with 0-0.8 s of silence padded before
 * them (`train_asr.py --pad-silence 0.8`, besides the renders' own 0-0.24 s of quiet), so it
 * learned speech that follows a pause; the held-out and development renders, like most user
 * audio, have only the renders' quiet. On 300 development-set
 * utterances (training voices, sentences training never used) the first word came out wrong
 * in 30.0% of them against 14.0% after 0.2-0.5 s of silence, and greedy WER went from 16.5% to
 * 14.6-14.8% (0.5 s: 14.63%, the default chosen there). Silence is a constant input, so the
 * state after it is computed once per model and shared; it costs a stream nothing.
 *
 * @module
 */
import { BadInputError } from '@rwkv-streams/core';
import { computeFbank } from '../features/fbank.js';
import type { EncoderState, SpeechModel } from '../model/speech-model.js';

/** Seconds of silence a stream's encoder state has heard when it starts (the default). */
export const DEFAULT_LEADING_SILENCE = 0.5;

const cache = new WeakMap<SpeechModel, Map<number, Promise<EncoderState>>>();

/**
 * The encoder state (one stream) after `seconds` of digital silence from a fresh state: the
 * filterbank of zeros, in whole encoder steps. 0 gives the fresh state. Computed once per
 * model and length; callers must not change the arrays they get (take a copy to change).
 */
export function encoderStateAfterSilence(model: SpeechModel, seconds: number): Promise<EncoderState> {
  if (!(seconds >= 0) || !Number.isFinite(seconds))
    throw new BadInputError(`leading silence must be a number of seconds >= 0, got ${seconds}`, {
      field: 'leadingSilence',
    });
  let perModel = cache.get(model);
  if (!perModel) {
    perModel = new Map();
    cache.set(model, perModel);
  }
  let state = perModel.get(seconds);
  if (!state) {
    state = computeSilenceState(model, seconds);
    perModel.set(seconds, state);
    // a failed computation is not kept: the next stream tries again
    state.catch(() => perModel.delete(seconds));
  }
  return state;
}

async function computeSilenceState(model: SpeechModel, seconds: number): Promise<EncoderState> {
  const fresh = model.createEncoderState(1);
  const { stack: S, featureDim: F } = model.config;
  const frames = computeFbank(new Float32Array(Math.round(seconds * 16000)), { numMelBins: F });
  const steps = Math.floor(frames.length / S);
  if (steps === 0) return fresh;
  const groups = new Float32Array(steps * S * F);
  for (let j = 0; j < steps * S; j++) groups.set(frames[j]!, j * F);
  return (await model.encode(groups, steps, fresh)).state;
}
