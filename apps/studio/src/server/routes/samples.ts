import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { RouteHandler } from '../context.js';
import { HttpError } from '../http.js';
import { STUDIO_MODEL_FOLDERS } from '../models.js';
import { REPO_ROOT } from '../paths.js';

/** Fashion-MNIST test-split images offered as samples (index in test-sample-images.u8). */
const GARMENTS: Readonly<Record<string, number>> = {
  'garment-1.png': 3,
  'garment-2.png': 77,
  'garment-3.png': 205,
};

/** Sample files from the repository, by the name the pages ask for. */
const FILES: Readonly<Record<string, { readonly path: string; readonly type: string }>> = {
  'scene.png': { path: 'examples/segment-images/samples/scene-0.png', type: 'image/png' },
  'two-scenes.png': { path: 'examples/segment-images/samples/two-scenes-wide.png', type: 'image/png' },
  'ETTh1-last-1000.csv': { path: 'examples/data/ETTh1-last-1000.csv', type: 'text/csv; charset=utf-8' },
  'speech.wav': { path: 'packages/audio/fixtures/speech/flite-kal.wav', type: 'audio/wav' },
};

/** A test-split garment enlarged 4x (nearest neighbour, so it stays the model's pixels), as PNG. */
async function garment(index: number, modelsDir: string): Promise<Buffer> {
  const file = join(modelsDir, STUDIO_MODEL_FOLDERS.classify, 'test-sample-images.u8');
  const images = await readFile(file).catch(() => {
    throw new HttpError(404, 'the Fashion-MNIST samples are not there', 'NOT_FOUND');
  });
  const pixels = images.subarray(index * 784, (index + 1) * 784);
  return sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
    .resize(112, 112, { kernel: 'nearest' })
    .png()
    .toBuffer();
}

/**
 * `GET /samples/<name>`: files to try each page with, without having any (Fashion-MNIST
 * garments, MNIST scenes, the last 1000 hours of ETTh1, a synthesized utterance). Only the
 * names listed are served.
 */
export const handleSample: RouteHandler = async (_req, res, url, ctx) => {
  const name = url.pathname.slice('/samples/'.length);
  let body: Buffer;
  let type: string;
  const g = GARMENTS[name];
  const f = FILES[name];
  if (g !== undefined) {
    body = await garment(g, ctx.models.dir);
    type = 'image/png';
  } else if (f) {
    body = await readFile(join(REPO_ROOT, f.path)).catch(() => {
      throw new HttpError(404, `the sample ${name} is not in this checkout`, 'NOT_FOUND');
    });
    type = f.type;
  } else throw new HttpError(404, `no sample named ${name}`, 'NOT_FOUND');
  res.writeHead(200, {
    'content-type': type,
    'content-length': body.length,
    'cache-control': 'public, max-age=3600',
  });
  res.end(body);
};

/** The sample names (the pages' sample buttons use them). */
export const SAMPLE_NAMES: readonly string[] = [...Object.keys(GARMENTS), ...Object.keys(FILES)];
