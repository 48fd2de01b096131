/**
 * The encoder state a stream starts from: a fresh zero state (the default), or the state
 * after a moment of digital silence (`RecognizerOptions.leadingSilence`).
 *
 * Why the option: models trained only on utterances with silence before them miss the first
 * word of an utterance whose speech starts at once from a zero state. The speech model shipped
 * until 2026-12-05 late was one: trained on utterances with 0-0.8 s of
 * silence padded before them (`train_asr.py --pad-silence 0.8`, besides the renders' own
 * 0-0.24 s of quiet), so it learned speech that follows a pause; the held-out and
 * development renders have only the renders' quiet. On 300 development-set utterances
 * (training voices, sentences training never used) the first word came out wrong in 30.0% of
 * them against 14.0% after 0.2-0.5 s of silence, and greedy WER went from 16.5% to 14.6-14.8%.
 *
 * Why not the default: in training the noise is added over the padded silence, so the model
 * never heard digital silence followed by noise, and after a primed start it hears noise as
 * speech. Greedy WER on 150 development-set utterances with pink noise added (no padding;
 * `bench/tmp-probe`-style script, 2026-12-05), zero state against 0.5 s of silence: clean
 * 17.2% / 15.3%, 30 dB SNR 17.6 / 16.3, 20 dB 17.2 / 17.5, 10 dB 25.0 / 31.0 (0.1 s of
 * silence: 30.3; 0.48 s of pink noise at -70 dBFS, the stream's own first 0.48 s reversed
 * or repeated: 36.4, 37.4, 38.8). A live microphone has a noise floor and usually a pause
 * before speech, which primes the model as its training did. So the default is the zero
 * state, and 0.5 s of silence is for clean audio whose speech starts at once (synthesized
 * speech, trimmed clips) read by such a model. The model shipped since was trained with a
 * quarter of its utterances starting at once (`--pad-none 0.25`) and reads as well from a
 * zero state (development set, greedy: 15.0% either way), so it needs no leading silence.
 * Silence is a constant input, so the state after it is computed once per model and shared;
 * it costs a stream nothing.
 *
 * @module
 */
import { BadInputError } from '@rwkv-streams/core';
import { computeFbank } from '../features/fbank.js';
import type { EncoderState, SpeechModel } from '../model/speech-model.js';

/** Seconds of silence a stream's encoder has heard when it starts, by default: none (a zero state). */
export const DEFAULT_LEADING_SILENCE = 0;

/**
 * The leading silence for clean audio whose speech starts at once, read by a model trained only
 * on utterances with silence before them (its length chosen on the dev set for such a model).
 */
export const CLEAN_START_LEADING_SILENCE = 0.5;

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
