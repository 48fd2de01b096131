import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadVrwkvWeights } from '../model/load-vrwkv.js';
import { VrwkvModel } from '../model/vrwkv-model.js';
import { predictRaw, readRawImageSet } from './raw-images.js';

/**
 * The shipped Fashion-MNIST VRWKV (models/vrwkv-fashion-mnist, trained by
 * training/vision/train_fashion_mnist.py) on a 500-image sample of its test split (every
 * 20th image): our predictions must be PyTorch's, image for image (the same float16
 * weights, float32 arithmetic on both sides).
 */
const dir = fileURLToPath(new URL('../../../../models/vrwkv-fashion-mnist/', import.meta.url));

describe('the shipped Fashion-MNIST model', () => {
  it('predicts what PyTorch predicted on the test sample', async () => {
    const config = JSON.parse(readFileSync(`${dir}config.json`, 'utf8')) as { mean: number[]; std: number[] };
    const { config: c, tensors } = loadVrwkvWeights(`${dir}model.safetensors`);
    expect(c).toMatchObject({ embedDims: 128, depth: 6, patchSize: 4, inChannels: 1, numClasses: 10 });
    const model = new VrwkvModel(c, tensors);
    const set = readRawImageSet(`${dir}test-sample-images.u8`, `${dir}test-sample-labels.u8`, 28, 28);
    const ours = await predictRaw(model, set, config.mean, config.std);
    const theirs = new Uint8Array(readFileSync(`${dir}test-sample-pytorch-predictions.u8`));
    let differ = 0;
    let correct = 0;
    for (let i = 0; i < ours.length; i++) {
      if (ours[i] !== theirs[i]) differ++;
      if (ours[i] === set.labels[i]) correct++;
    }
    console.log(
      `Fashion-MNIST sample: ${correct}/${ours.length} correct, ${differ} predictions differ from PyTorch`,
    );
    expect(differ).toBe(0);
    expect(correct / ours.length).toBeGreaterThan(0.9);
    await model.dispose();
  });
});
