import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { SHIPPED_MODELS_DIR, STUDIO_MODEL_FOLDERS } from './models.js';
import { REPO_ROOT } from './paths.js';

/*
 * Inputs the studio's tests share (built into dist like the rest of src/, but only the
 * tests import it; it reads the repository's shipped samples).
 */

/** A Fashion-MNIST test-split image enlarged 4x as PNG, and its true label. */
export async function garmentPng(index: number): Promise<{ png: Buffer; label: string }> {
  const dir = join(SHIPPED_MODELS_DIR, STUDIO_MODEL_FOLDERS.classify);
  const images = readFileSync(join(dir, 'test-sample-images.u8'));
  const labels = readFileSync(join(dir, 'test-sample-labels.u8'));
  const card = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { labels: string[] };
  const png = await sharp(images.subarray(index * 784, (index + 1) * 784), {
    raw: { width: 28, height: 28, channels: 1 },
  })
    .resize(112, 112, { kernel: 'nearest' })
    .png()
    .toBuffer();
  return { png, label: card.labels[labels[index]!]! };
}

/** A file of the repository (the examples' samples, the audio fixtures). */
export const repoFile = (path: string): Buffer => readFileSync(join(REPO_ROOT, path));

/** The MNIST scene the segmentation tests use, and the digits in it (examples/segment-images/samples/truth.json). */
export const SCENE = {
  path: 'examples/segment-images/samples/scene-0.png',
  digits: ['3', '4', '9'],
} as const;

/** The ETTh1 sample CSV (1000 hourly rows of the model's seven columns). */
export const ETTH1_CSV = 'examples/data/ETTh1-last-1000.csv';

/** flite's kal voice saying "as naked as at birth", 16 kHz mono s16. */
export const SPEECH_WAV = 'packages/audio/fixtures/speech/flite-kal.wav';
