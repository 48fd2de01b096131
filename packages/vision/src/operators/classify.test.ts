import { fileURLToPath } from 'node:url';
import { MalformedFileError, softmax } from '@rwkv-streams/core';
import { from, lastValueFrom, toArray } from 'rxjs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { loadVrwkvWeights } from '../model/load-vrwkv.js';
import { VrwkvModel } from '../model/vrwkv-model.js';
import { preprocessImage } from '../preprocess/preprocess-image.js';
import { classify } from './classify.js';

const weights = fileURLToPath(new URL('../../fixtures/official/vrwkv-plain.pth', import.meta.url));
const spec = {
  size: 32,
  policy: 'center-crop' as const,
  mean: [120, 120, 120],
  std: [60, 60, 60],
  channels: 3 as const,
};

async function noise(seed: number, w: number, h: number): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * 3);
  let s = seed;
  for (let i = 0; i < raw.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    raw[i] = s % 256;
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}

describe('classify()', () => {
  it('emits a result per image in order, equal to the model on the same pixels; a corrupt image fails alone', async () => {
    const { config, tensors } = loadVrwkvWeights(weights);
    const model = new VrwkvModel(config, tensors);
    const images = [
      await noise(1, 40, 32),
      await noise(2, 32, 48),
      new Uint8Array([0, 1, 2]),
      await noise(3, 64, 64),
    ];
    const labels = Array.from({ length: 10 }, (_, i) => `class-${i}`);
    const results = await lastValueFrom(
      from(images).pipe(
        classify({ model, preprocess: spec, labels, topK: 3, batchSize: 2, concurrency: 3 }),
        toArray(),
      ),
    );
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3]);
    expect(results[2]!.error).toBeInstanceOf(MalformedFileError);
    expect(results[2]!.top).toBeUndefined();
    for (const i of [0, 1, 3]) {
      const r = results[i]!;
      expect(r.error).toBeUndefined();
      expect(r.top).toHaveLength(3);
      const p = r.top!.map((t) => t.probability);
      expect(p[0]!).toBeGreaterThanOrEqual(p[1]!);
      expect(p[1]!).toBeGreaterThanOrEqual(p[2]!);
      const direct = await model.forward((await preprocessImage(images[i]!, spec)).pixels, 1, 32, 32);
      const probs = softmax(direct.logits!);
      expect(r.top![0]!.classIndex).toBe(probs.indexOf(Math.max(...probs)));
      expect(r.top![0]!.label).toBe(`class-${r.top![0]!.classIndex}`);
      expect(r.top![0]!.probability).toBeCloseTo(Math.max(...probs), 5);
      expect(r.timing.inferenceMs).toBeGreaterThan(0);
    }
    await model.dispose();
  });

  it("'native': each image at its own size (a multiple of the patch), batched by size, in order", async () => {
    const { config, tensors } = loadVrwkvWeights(weights);
    const model = new VrwkvModel(config, tensors);
    const native = { ...spec, policy: 'native' as const, size: 48, multipleOf: 4 };
    // 40x32 and 44x30 keep their size (to multiples of 4: 40x32, 44x28); 96x64 is scaled to fit 48
    const images = [
      await noise(1, 40, 32),
      await noise(2, 44, 30),
      await noise(3, 96, 64),
      await noise(4, 40, 32),
    ];
    const sizes = await Promise.all(images.map((im) => preprocessImage(im, native)));
    expect(sizes.map((p) => [p.width, p.height])).toEqual([
      [40, 32],
      [44, 28],
      [48, 32],
      [40, 32],
    ]);
    const results = await lastValueFrom(
      from(images).pipe(classify({ model, preprocess: native, topK: 10, batchSize: 4 }), toArray()),
    );
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3]);
    for (const [i, r] of results.entries()) {
      const { pixels, width, height } = sizes[i]!;
      const probs = softmax((await model.forward(pixels, 1, height, width)).logits!);
      for (const t of r.top!) expect(t.probability).toBeCloseTo(probs[t.classIndex]!, 5);
    }
    expect(() => classify({ model, preprocess: { ...native, multipleOf: 6 } })).toThrow(/multipleOf 6/);
    await model.dispose();
  });

  it('refuses options that cannot fit the model', () => {
    const { config, tensors } = loadVrwkvWeights(weights);
    const model = new VrwkvModel(config, tensors);
    expect(() => classify({ model, preprocess: spec, labels: ['a', 'b'] })).toThrow(
      /2 labels for a head of 10/,
    );
    expect(() => classify({ model, preprocess: { ...spec, size: 30 } })).toThrow(
      /multiple of the 4-pixel patch/,
    );
    expect(() => classify({ model, preprocess: { ...spec, channels: 1, mean: [0], std: [1] } })).toThrow(
      /1 channels/,
    );
  });
});
