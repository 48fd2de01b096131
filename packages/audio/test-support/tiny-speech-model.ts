import { randomSpeechWeights } from '../src/model/random-speech-weights.js';
import { SpeechModel } from '../src/model/speech-model.js';

/**
 * A small speech model with seeded random weights on the CPU backend (encoder width 64,
 * prediction network 64, joiner 32, heads of 32), for tests that pin mechanics rather than
 * accuracy. The caller disposes it.
 */
export function tinySpeechModel(encoderLayers: number, seed: number): SpeechModel {
  const { config, tensors } = randomSpeechWeights(
    { encoderLayers, encoderDim: 64, predictorLayers: 1, predictorDim: 64, joinerDim: 32, headSize: 32 },
    seed,
  );
  return SpeechModel.create(config, tensors);
}
