import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadVrwkvSegmenter } from './load-segmenter.js';
import { Confusion } from './metrics.js';
import { readSceneSet, segmentScenes } from './scene-set.js';
import { VrwkvSegmenter } from './vrwkv-segmenter.js';

/**
 * The shipped MNIST-scenes segmenter (models/vrwkv-mnist-scenes, trained by
 * training/vision/train_mnist_scenes.py) on the first 32 of its 3000 test scenes: our
 * masks must be PyTorch's, pixel for pixel (the same float16 weights, float32 arithmetic).
 */
const dir = fileURLToPath(new URL('../../../../models/vrwkv-mnist-scenes/', import.meta.url));

describe('the shipped MNIST-scenes segmenter', () => {
  it('segments the test sample as PyTorch did', async () => {
    const cfg = JSON.parse(readFileSync(`${dir}config.json`, 'utf8')) as { mean: number[]; std: number[] };
    const { config, tensors } = loadVrwkvSegmenter(`${dir}model.safetensors`);
    expect(config).toMatchObject({ numClasses: 11, headHidden: 256 });
    expect(config.backbone).toMatchObject({ embedDims: 96, depth: 6, patchSize: 4, inChannels: 1 });
    const model = new VrwkvSegmenter(config, tensors);
    const set = readSceneSet(`${dir}test-sample-images.u8`, `${dir}test-sample-masks.u8`, 64);
    expect(set.count).toBe(32);
    const ours = await segmentScenes(model, set, cfg.mean[0]!, cfg.std[0]!, 16);
    const theirs = new Uint8Array(readFileSync(`${dir}test-sample-pytorch-predictions.u8`));
    let differ = 0;
    for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) differ++;
    const cm = new Confusion(11);
    cm.add(set.masks, ours);
    const { miou, pixelAccuracy } = cm.scores();
    console.log(
      `MNIST-scenes sample: mIoU ${miou.toFixed(4)}, pixel accuracy ${pixelAccuracy.toFixed(5)}, ${differ} pixels differ from PyTorch`,
    );
    expect(differ).toBe(0);
    expect(miou).toBeGreaterThan(0.9);
    await model.dispose();
  });
});
