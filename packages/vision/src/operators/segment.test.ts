import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MalformedFileError } from '@rwkv-streams/core';
import { from, lastValueFrom, toArray } from 'rxjs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { letterboxImage, unletterboxMask } from '../preprocess/letterbox.js';
import { loadVrwkvSegmenter } from '../segmentation/load-segmenter.js';
import { Confusion } from '../segmentation/metrics.js';
import { VrwkvSegmenter } from '../segmentation/vrwkv-segmenter.js';
import { segment } from './segment.js';

const dir = fileURLToPath(new URL('../../../../models/vrwkv-mnist-scenes/', import.meta.url));
const cfg = JSON.parse(readFileSync(`${dir}config.json`, 'utf8')) as {
  mean: number[];
  std: number[];
  labels: string[];
  background: number;
};
const spec = { size: 64, mean: cfg.mean, std: cfg.std, channels: 1 as const };
const images = readFileSync(`${dir}test-sample-images.u8`);
const truths = readFileSync(`${dir}test-sample-masks.u8`);
const pytorch = readFileSync(`${dir}test-sample-pytorch-predictions.u8`);
const scene = (i: number) => images.subarray(i * 4096, (i + 1) * 4096);
const png = (raw: Uint8Array, width = 64, height = 64) =>
  sharp(raw, { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();

describe('segment()', () => {
  it('the shipped model: a mask per image at its own size, in order; a corrupt image fails alone', async () => {
    const { config, tensors } = loadVrwkvSegmenter(`${dir}model.safetensors`);
    const model = new VrwkvSegmenter(config, tensors);
    // two scenes side by side (128 x 64: letterboxed to 64 x 32 and mapped back)
    const wide = new Uint8Array(128 * 64);
    for (let y = 0; y < 64; y++) {
      wide.set(scene(5).subarray(y * 64, y * 64 + 64), y * 128);
      wide.set(scene(6).subarray(y * 64, y * 64 + 64), y * 128 + 64);
    }
    const big = sharp(await png(scene(7))).resize(128, 128, { kernel: 'nearest' }); // a sharp instance
    const inputs = [
      await png(scene(0)),
      await png(scene(1)),
      new Uint8Array([137, 80, 78, 71, 0, 0]), // a truncated PNG signature
      await png(wide, 128, 64),
      big,
      await png(scene(2)),
    ];
    const results = await lastValueFrom(
      from(inputs).pipe(
        segment({
          model,
          preprocess: spec,
          labels: cfg.labels,
          background: cfg.background,
          batchSize: 2,
          concurrency: 3,
        }),
        toArray(),
      ),
    );
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results[2]!.error).toBeInstanceOf(MalformedFileError);
    expect(results[2]!.mask).toBeUndefined();
    // 64 x 64 scenes run as they are: PyTorch's masks, pixel for pixel
    for (const [r, i] of [
      [results[0]!, 0],
      [results[1]!, 1],
      [results[5]!, 2],
    ] as const) {
      expect(r.mask).toMatchObject({ width: 64, height: 64 });
      expect([...r.mask!.data]).toEqual([...pytorch.subarray(i * 4096, (i + 1) * 4096)]);
      expect(r.counts!.reduce((a, b) => a + b, 0)).toBe(4096);
      const present = new Set([...truths.subarray(i * 4096, (i + 1) * 4096)].filter((m) => m !== 10));
      expect(new Set(r.found!.map((f) => f.classIndex))).toEqual(present);
      expect(
        r.found!.every((f) => f.label === String(f.classIndex) && f.pixels === r.counts![f.classIndex]),
      ).toBe(true);
      expect(r.timing.inferenceMs).toBeGreaterThan(0);
    }
    // the wide image: its mask at 128 x 64 is the letterboxed input's mask mapped back
    const w = results[3]!;
    expect(w.mask).toMatchObject({ width: 128, height: 64 });
    const lb = await letterboxImage(inputs[3] as Uint8Array, spec);
    const direct = await model.forward(lb.pixels, 1, 64, 64);
    expect([...w.mask!.data]).toEqual([...unletterboxMask(direct.masks, 64, lb.box, 128, 64)]);
    // the 2x enlarged scene: back at 128 x 128, close to the enlarged true mask
    const b = results[4]!;
    expect(b.mask).toMatchObject({ width: 128, height: 128 });
    const truth2x = new Uint8Array(128 * 128);
    for (let y = 0; y < 128; y++)
      for (let x = 0; x < 128; x++) truth2x[y * 128 + x] = truths[7 * 4096 + (y >> 1) * 64 + (x >> 1)]!;
    const cm = new Confusion(11);
    cm.add(truth2x, b.mask!.data);
    expect(cm.scores().miou).toBeGreaterThan(0.8);
    await model.dispose();
  });

  it("tiling: a picture of two scenes side by side, at full resolution, gives each scene's own mask", async () => {
    const { config, tensors } = loadVrwkvSegmenter(`${dir}model.safetensors`);
    const model = new VrwkvSegmenter(config, tensors);
    const wide = new Uint8Array(128 * 70); // two scenes, and 6 black rows below (a partial tile row)
    for (let y = 0; y < 64; y++) {
      wide.set(scene(8).subarray(y * 64, y * 64 + 64), y * 128);
      wide.set(scene(9).subarray(y * 64, y * 64 + 64), y * 128 + 64);
    }
    const [r] = await lastValueFrom(
      from([await png(wide, 128, 70)]).pipe(
        segment({ model, preprocess: { ...spec, policy: 'tile' } }),
        toArray(),
      ),
    );
    expect(r!.mask).toMatchObject({ width: 128, height: 70 });
    for (let y = 0; y < 64; y++) {
      expect([...r!.mask!.data.subarray(y * 128, y * 128 + 64)]).toEqual([
        ...pytorch.subarray(8 * 4096 + y * 64, 8 * 4096 + y * 64 + 64),
      ]);
      expect([...r!.mask!.data.subarray(y * 128 + 64, y * 128 + 128)]).toEqual([
        ...pytorch.subarray(9 * 4096 + y * 64, 9 * 4096 + y * 64 + 64),
      ]);
    }
    expect(r!.mask!.data.subarray(64 * 128).every((m) => m === 10)).toBe(true);
    await model.dispose();
  });

  it('refuses options that cannot fit the model', () => {
    const { config, tensors } = loadVrwkvSegmenter(`${dir}model.safetensors`);
    const model = new VrwkvSegmenter(config, tensors);
    expect(() => segment({ model, preprocess: spec, labels: ['a'] })).toThrow(/1 labels for a head of 11/);
    expect(() => segment({ model, preprocess: { ...spec, size: 62 } })).toThrow(
      /multiple of the 4-pixel patch/,
    );
    expect(() =>
      segment({ model, preprocess: { ...spec, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] } }),
    ).toThrow(/3 channels/);
  });
});
