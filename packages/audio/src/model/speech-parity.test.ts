import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadWeights } from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSpeechModel } from './load-speech-model.js';
import type { SpeechModel } from './speech-model.js';

// Fixtures: training/audio/make_speech_parity_fixture.py DIR STACK (PyTorch float32, the
// training code's chunked WKV-7), with 4 frames a step (the shipped models') and with 3: a small random model (2 encoder layers of 64, a predictor of 64, a joiner of
// 32, every weight perturbed, a feature normalisation far from identity that the export folds
// into the stem), 64 random filterbank frames, and what PyTorch computes for them.
const fixtures = [
  { stack: 4, dir: fileURLToPath(new URL('../../fixtures/speech-parity/', import.meta.url)) },
  { stack: 3, dir: fileURLToPath(new URL('../../fixtures/speech-parity-stack3/', import.meta.url)) },
];
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

// float32 on both sides, different summation orders (chunked vs recurrent WKV): 1e-4 absolute
// on values of order 1..10 (measured: about 1e-6).
const TOL = 1e-4;

describe.each(fixtures)('speech model parity with the PyTorch training code ($stack frames a step)', ({
  stack,
  dir,
}) => {
  const fixture = JSON.parse(readFileSync(`${dir}fixture.json`, 'utf8')) as {
    tokens: number[];
    shapes: Record<string, number[]>;
  };
  const f32 = (name: string): Float32Array => {
    const b = readFileSync(`${dir}${name}.f32`);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
  let model: SpeechModel;
  const feats = f32('feats');
  const steps = fixture.shapes['encoder_out']![0]!;

  afterAll(async () => {
    await model.dispose();
  });

  it('reads its sizes from the weights', async () => {
    model = await loadSpeechModel(dir);
    const c = model.config;
    expect([c.featureDim, c.stack, c.vocab, c.joinerDim]).toEqual([80, stack, 29, 32]);
    expect([c.encoder.nLayer, c.encoder.nEmbd, c.encoder.headSize, c.encoder.dimFfn]).toEqual([
      2, 64, 32, 256,
    ]);
    expect([c.predictor.nLayer, c.predictor.nEmbd]).toEqual([1, 64]);
    expect(model.hasVadHead).toBe(true);
  });

  it('encoder, CTC and voice-activity outputs match, whole input and step by step', async () => {
    const whole = await model.encode(feats, steps, model.createEncoderState());
    const dEnc = maxDiff(whole.encoderOut, f32('encoder_out'));
    const dCtc = maxDiff(whole.ctcLogits, f32('ctc_logits'));
    const dVad = maxDiff(whole.vadLogits!, f32('vad_logits'));
    console.log(
      `speech parity: encoder ${dEnc.toExponential(2)}, ctc ${dCtc.toExponential(2)}, vad ${dVad.toExponential(2)}`,
    );
    expect(Math.max(dEnc, dCtc, dVad)).toBeLessThan(TOL);

    let state = model.createEncoderState();
    const perStep: number[] = [];
    const group = feats.length / steps;
    for (let t = 0; t < steps; t++) {
      const r = await model.encode(feats.subarray(t * group, (t + 1) * group), 1, state);
      state = r.state;
      perStep.push(...r.ctcLogits);
    }
    expect(maxDiff(perStep, f32('ctc_logits'))).toBeLessThan(TOL);
  });

  it('prediction network and joiner match', async () => {
    const start = await model.prediction.start();
    const outs = [start.out];
    let st = start.state;
    for (const tok of fixture.tokens) {
      const r = await model.prediction.step([st], [tok]);
      st = r.states[0]!;
      outs.push(r.outs[0]!);
    }
    // the prediction network hands the joiner its projection, W_p pred + b_p: PyTorch's
    // pred_out projected here in float64
    const { tensors } = loadWeights(`${dir}model.safetensors`);
    const W = tensors.get('joiner.pred.weight')!;
    const bias = tensors.get('joiner.pred.bias')!.data;
    const [J, P] = W.shape as [number, number];
    const ref = f32('pred_out');
    const projected: number[] = [];
    for (let t = 0; t < ref.length / P; t++)
      for (let j = 0; j < J; j++) {
        let acc = bias[j]!;
        for (let i = 0; i < P; i++) acc += W.data[j * P + i]! * ref[t * P + i]!;
        projected.push(acc);
      }
    expect(
      maxDiff(
        outs.flatMap((o) => Array.from(o)),
        projected,
      ),
    ).toBeLessThan(TOL);

    const whole = await model.encode(feats, steps, model.createEncoderState());
    const d = model.config.encoder.nEmbd;
    const joint = await model.joiner.join(whole.encoderOut.subarray(3 * d, 4 * d), outs);
    expect(
      maxDiff(
        joint.flatMap((r) => Array.from(r)),
        f32('joiner_logits_step3'),
      ),
    ).toBeLessThan(TOL);
  });
});
