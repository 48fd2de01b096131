import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Confusion,
  loadVrwkvSegmenter,
  loadVrwkvWeights,
  predictRaw,
  type RawImageSet,
  readRawImageSet,
  readSceneSet,
  segmentScenes,
  VrwkvModel,
  VrwkvSegmenter,
} from '@rwkv-streams/vision';
import { type BenchFigure, type BenchOptions, rate } from './common.js';

/** Images a classifier call takes (predictRaw's batch). */
export const CLASSIFY_BATCH = 250;

interface Card {
  readonly mean: number[];
  readonly std: number[];
}

const readCard = (dir: string): Card => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Card;

/**
 * The vision package on the two models we ship, on the test samples shipped beside them
 * (raw bytes, so the figures are the model's, not image decoding's): the Fashion-MNIST
 * classifier's images/s ({@link CLASSIFY_BATCH} a call) and top-1 accuracy on its 500
 * sample images; the MNIST-scenes segmenter's images/s (64 x 64 scenes, all 32 samples in
 * one call) and mIoU on them.
 */
export async function benchVision(o: BenchOptions): Promise<BenchFigure[]> {
  const ms = o.quick ? 300 : 3000;
  const figures: BenchFigure[] = [];
  const add = (figure: string, unit: string, value: number) =>
    figures.push({ package: 'vision', figure, unit, value });

  o.onStep?.('vision: Fashion-MNIST classification');
  const fdir = join(o.models, 'vrwkv-fashion-mnist');
  const fcard = readCard(fdir);
  const set: RawImageSet = readRawImageSet(
    join(fdir, 'test-sample-images.u8'),
    join(fdir, 'test-sample-labels.u8'),
    28,
    28,
  );
  // The timed rounds take one batch; the accuracy is over every sample.
  const batch: RawImageSet = {
    ...set,
    pixels: set.pixels.subarray(0, CLASSIFY_BATCH * 28 * 28),
    labels: set.labels.subarray(0, CLASSIFY_BATCH),
  };
  const { config, tensors } = loadVrwkvWeights(join(fdir, 'model.safetensors'));
  const classifier = new VrwkvModel(config, tensors, { device: o.device });
  try {
    const predicted = await predictRaw(classifier, set, fcard.mean, fcard.std, CLASSIFY_BATCH);
    let right = 0;
    for (let i = 0; i < predicted.length; i++) if (predicted[i] === set.labels[i]) right++;
    const perSecond = await rate(async () => {
      await predictRaw(classifier, batch, fcard.mean, fcard.std, CLASSIFY_BATCH);
      return batch.labels.length;
    }, ms);
    add(`Fashion-MNIST classify, ${CLASSIFY_BATCH} a call`, 'images/s', perSecond);
    add(
      `Fashion-MNIST top-1, ${set.labels.length} shipped test images`,
      '%',
      (100 * right) / set.labels.length,
    );
  } finally {
    await classifier.dispose();
  }

  o.onStep?.('vision: MNIST-scenes segmentation');
  const sdir = join(o.models, 'vrwkv-mnist-scenes');
  const scard = readCard(sdir);
  const scenes = readSceneSet(join(sdir, 'test-sample-images.u8'), join(sdir, 'test-sample-masks.u8'), 64);
  const s = loadVrwkvSegmenter(join(sdir, 'model.safetensors'));
  const segmenter = new VrwkvSegmenter(s.config, s.tensors, { device: o.device });
  try {
    const masks = await segmentScenes(segmenter, scenes, scard.mean[0]!, scard.std[0]!, scenes.count);
    const confusion = new Confusion(s.config.numClasses);
    confusion.add(scenes.masks, masks);
    const perSecond = await rate(async () => {
      await segmentScenes(segmenter, scenes, scard.mean[0]!, scard.std[0]!, scenes.count);
      return scenes.count;
    }, ms);
    add(`MNIST-scenes segment 64x64, ${scenes.count} a call`, 'images/s', perSecond);
    add(`MNIST-scenes mIoU, ${scenes.count} shipped test scenes`, 'mIoU', confusion.scores().miou);
  } finally {
    await segmenter.dispose();
  }
  return figures;
}
