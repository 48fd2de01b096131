import {
  BackendUnavailableError,
  BadInputError,
  MissingTensorError,
  onnxBackend,
  registerBackend,
  SeededRandom,
  ShapeMismatchError,
} from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { TransducerModifiedBeamSearch } from '../decode/transducer-beam.js';
import { TransducerGreedySearch } from '../decode/transducer-greedy.js';
import { randomSpeechWeights } from './random-speech-weights.js';
import { SpeechModel } from './speech-model.js';

/**
 * The speech model's graphs on the CPU backend with random weights: the encoder run step
 * by step with its state carried equals one call over the whole input (recurrent ==
 * sequence), batched prediction-network steps equal single ones, and the decoders run
 * against it.
 */
const { config, tensors } = randomSpeechWeights(
  { encoderLayers: 2, encoderDim: 64, predictorLayers: 1, predictorDim: 64, joinerDim: 32, headSize: 32 },
  3,
);
const model = SpeechModel.create(config, tensors);
afterAll(() => model.dispose());

const S = config.stack;
const F = config.featureDim;

function features(steps: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: steps * S * F }, () => rng.normal());
}

const maxDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

describe('speech model graphs', () => {
  it('the encoder in chunks with carried state equals one call over the whole input', async () => {
    const steps = 21;
    const x = features(steps, 1);
    const whole = await model.encode(x, steps, model.createEncoderState());
    let state = model.createEncoderState();
    const outs: Float32Array[] = [];
    const logits: Float32Array[] = [];
    for (const [from, to] of [
      [0, 1],
      [1, 5],
      [5, 6],
      [6, 21],
    ] as const) {
      const r = await model.encode(x.slice(from * S * F, to * S * F), to - from, state);
      outs.push(r.encoderOut);
      logits.push(r.ctcLogits);
      state = r.state;
    }
    const join = (parts: Float32Array[]) => Float32Array.from(parts.flatMap((p) => Array.from(p)));
    const d = maxDiff(whole.encoderOut, join(outs));
    console.log(`encoder chunked vs whole: max |diff| ${d.toExponential(2)}`);
    expect(d).toBeLessThan(1e-4);
    expect(maxDiff(whole.ctcLogits, join(logits))).toBeLessThan(1e-4);
    expect(maxDiff(whole.state.stem, state.stem)).toBe(0);
  });

  it('batched prediction-network steps equal one hypothesis at a time', async () => {
    const start = await model.prediction.start();
    const one = await model.prediction.step([start.state], [5]);
    const two = await model.prediction.step([start.state, one.states[0]!], [5, 7]);
    expect(maxDiff(two.outs[0]!, one.outs[0]!)).toBeLessThan(1e-5);
    const seq = await model.prediction.step([one.states[0]!], [7]);
    expect(maxDiff(two.outs[1]!, seq.outs[0]!)).toBeLessThan(1e-5);
  });

  it('the joiner projects a frame once: joining it again, or a copy of it, gives the same logits; a rewritten array is projected anew', async () => {
    const r = await model.encode(features(2, 5), 2, model.createEncoderState(1));
    const d = config.encoder.nEmbd;
    const frame = r.encoderOut.subarray(d, 2 * d);
    const start = await model.prediction.start();
    const next = await model.prediction.step([start.state, start.state], [5, 7]);
    const preds = [start.out, ...next.outs];
    const first = await model.joiner.join(frame, preds); // projects the frame
    const again = await model.joiner.join(frame, preds); // reuses the projection
    const copy = await model.joiner.join(frame.slice(), preds); // a new array: projects again
    for (let i = 0; i < preds.length; i++) {
      expect(Array.from(again[i]!)).toEqual(Array.from(first[i]!));
      expect(Array.from(copy[i]!)).toEqual(Array.from(first[i]!));
    }
    // an array written again with another frame is projected again, not read from before
    const reused = frame.slice();
    await model.joiner.join(reused, preds);
    const other = r.encoderOut.subarray(0, d);
    reused.set(other);
    const rewritten = await model.joiner.join(reused, preds);
    const fresh = await model.joiner.join(other.slice(), preds);
    for (let i = 0; i < preds.length; i++) expect(Array.from(rewritten[i]!)).toEqual(Array.from(fresh[i]!));
    expect(Array.from(fresh[0]!)).not.toEqual(Array.from(first[0]!));
    // one hypothesis alone gives its row of the batch (within float32 summation order)
    const alone = await model.joiner.join(frame, [preds[2]!]);
    expect(maxDiff(alone[0]!, first[2]!)).toBeLessThan(1e-5);
    await expect(model.joiner.join(frame, [new Float32Array(config.joinerDim + 1)])).rejects.toThrow(
      /a prediction has 33 values, not 32/,
    );
  });

  it('searchDevice places the prediction network and joiner apart from the encoder (default: the CPU)', async () => {
    // This process has no GPU backend: a stand-in for device 'cuda' that runs onnxruntime
    // on the CPU and records what it was given, so that where each graph went is seen.
    const compiledFor: string[] = [];
    registerBackend({
      name: 'test-gpu-stand-in',
      devices: ['cuda'],
      async compile(graph, options) {
        compiledFor.push(`${graph.name} on ${options.device}`);
        return onnxBackend.compile(graph, { ...options, device: 'cpu' });
      },
    });
    const split = SpeechModel.create(config, tensors, { device: 'cpu', searchDevice: 'cuda' });
    try {
      const r = await split.encode(features(2, 5), 2, split.createEncoderState(1));
      const start = await split.prediction.start();
      const joined = await split.joiner.join(r.encoderOut.slice(0, config.encoder.nEmbd), [start.out]);
      // the same numbers as the model that runs everything in one place
      const ref = await model.joiner.join(r.encoderOut.slice(0, config.encoder.nEmbd), [
        (await model.prediction.start()).out,
      ]);
      expect(maxDiff(joined[0]!, ref[0]!)).toBe(0);
      expect(compiledFor.sort()).toEqual([
        'speech-joiner on cuda',
        'speech-joiner-frame on cuda',
        'speech-predictor on cuda',
      ]);
    } finally {
      await split.dispose();
    }
    // by default the search runs on the CPU beside an encoder on the GPU
    compiledFor.length = 0;
    const gpu = SpeechModel.create(config, tensors, { device: 'cuda' });
    try {
      const r = await gpu.encode(features(2, 5), 2, gpu.createEncoderState(1));
      await gpu.joiner.join(r.encoderOut.slice(0, config.encoder.nEmbd), [
        (await gpu.prediction.start()).out,
      ]);
      expect(compiledFor).toEqual(['speech-encoder-chunk on cuda']);
    } finally {
      await gpu.dispose();
    }
    expect(() => SpeechModel.create(config, tensors, { searchDevice: 'tpu' as 'cpu' })).toThrow(
      BackendUnavailableError,
    );
  });

  it('the transducer decoders run on it (beam 1 equals greedy)', async () => {
    const steps = 12;
    const enc = await model.encode(features(steps, 2), steps, model.createEncoderState());
    const greedy = new TransducerGreedySearch(model.prediction, model.joiner);
    await greedy.accept(enc.encoderOut, steps, config.encoder.nEmbd);
    const beam = new TransducerModifiedBeamSearch(model.prediction, model.joiner, { beam: 1 });
    await beam.accept(enc.encoderOut, steps, config.encoder.nEmbd);
    expect(beam.result()).toEqual(greedy.result());
    expect(greedy.frames).toBe(steps);
  });

  it('bad weights and inputs are typed errors naming the problem', async () => {
    const missing = new Map(tensors);
    missing.delete('ctc.bias');
    expect(() => SpeechModel.create(config, missing)).toThrow(MissingTensorError);
    const wrong = new Map(tensors);
    wrong.set('joiner.out.bias', { ...tensors.get('joiner.out.bias')!, shape: [3] });
    expect(() => SpeechModel.create(config, wrong)).toThrow(ShapeMismatchError);
    await expect(model.encode(new Float32Array(10), 1, model.createEncoderState())).rejects.toThrow(
      BadInputError,
    );
  });
});
