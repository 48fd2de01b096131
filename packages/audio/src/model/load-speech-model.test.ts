import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BadInputError,
  hostTensor,
  MissingTensorError,
  ShapeMismatchError,
  writeSafetensorsFile,
} from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSpeechModel } from './load-speech-model.js';
import { randomSpeechWeights } from './random-speech-weights.js';

const tmp = mkdtempSync(join(tmpdir(), 'speech-load-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sizes = {
  encoderLayers: 2,
  encoderDim: 64,
  predictorLayers: 1,
  predictorDim: 32,
  joinerDim: 16,
  headSize: 32,
};

describe('loadSpeechModel', () => {
  it('reads the sizes from the tensors, from a file or a model directory', async () => {
    const { config, tensors } = randomSpeechWeights(sizes);
    const d = join(tmp, 'ok');
    writeSafetensorsFile(join(tmp, 'ok.safetensors'), tensors);
    mkdirSync(d);
    writeSafetensorsFile(join(d, 'model.safetensors'), tensors);
    for (const p of [join(tmp, 'ok.safetensors'), d]) {
      const m = await loadSpeechModel(p);
      expect(m.config.encoder).toMatchObject({
        nLayer: 2,
        nEmbd: 64,
        headSize: 32,
        nHead: 2,
        dimFfn: config.encoder.dimFfn,
      });
      expect(m.config.predictor).toMatchObject({ nLayer: 1, nEmbd: 32 });
      expect([m.config.stack, m.config.vocab, m.config.joinerDim, m.hasVadHead]).toEqual([4, 29, 16, false]);
      await m.dispose();
    }
  });

  it('reads the CTC frames a step from the CTC head, a whole multiple of the vocabulary', async () => {
    const { config, tensors } = randomSpeechWeights(sizes);
    const d = config.encoder.nEmbd;
    const V = config.vocab;
    const rows = (n: number) =>
      new Map([
        ...tensors,
        ['ctc.weight', hostTensor([n, d], new Float32Array(n * d))],
        ['ctc.bias', hostTensor([n], new Float32Array(n))],
      ]);
    writeSafetensorsFile(join(tmp, 'ctc2.safetensors'), rows(2 * V));
    const m = await loadSpeechModel(join(tmp, 'ctc2.safetensors'));
    expect([m.config.vocab, m.ctcFrames, m.ctcFrameSeconds]).toEqual([V, 2, 0.02]);
    await m.dispose();
    const one = await loadSpeechModel(join(tmp, 'ok.safetensors'));
    expect([one.config.ctcFrames, one.ctcFrames]).toEqual([undefined, 1]);
    await one.dispose();
    writeSafetensorsFile(join(tmp, 'ctc-odd.safetensors'), rows(V + 1));
    await expect(loadSpeechModel(join(tmp, 'ctc-odd.safetensors'))).rejects.toThrow(ShapeMismatchError);
    await expect(loadSpeechModel(join(tmp, 'ctc-odd.safetensors'))).rejects.toThrow(
      /ctc\.weight has 30 rows, not a multiple of the 29 symbols/,
    );
  });

  it('names what is missing or wrong', async () => {
    await expect(loadSpeechModel(join(tmp, 'absent'))).rejects.toThrow(BadInputError);
    const { tensors } = randomSpeechWeights(sizes);
    const noCtc = new Map(tensors);
    noCtc.delete('ctc.weight');
    writeSafetensorsFile(join(tmp, 'no-ctc.safetensors'), noCtc);
    await expect(loadSpeechModel(join(tmp, 'no-ctc.safetensors'))).rejects.toThrow(MissingTensorError);
    await expect(loadSpeechModel(join(tmp, 'no-ctc.safetensors'))).rejects.toThrow(/ctc\.weight/);
    const halfVad = new Map(tensors);
    halfVad.set('vad.bias', hostTensor([1], new Float32Array(1)));
    writeSafetensorsFile(join(tmp, 'half-vad.safetensors'), halfVad);
    await expect(loadSpeechModel(join(tmp, 'half-vad.safetensors'))).rejects.toThrow(/vad\.weight/);
    const badStem = new Map(tensors);
    badStem.set('encoder.stem.weight', hostTensor([64, 100], new Float32Array(6400)));
    writeSafetensorsFile(join(tmp, 'bad-stem.safetensors'), badStem);
    await expect(loadSpeechModel(join(tmp, 'bad-stem.safetensors'))).rejects.toThrow(ShapeMismatchError);
    writeFileSync(join(tmp, 'junk.safetensors'), 'not weights');
    await expect(loadSpeechModel(join(tmp, 'junk.safetensors'))).rejects.toThrow();
  });
});
