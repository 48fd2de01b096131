import { BadInputError, MalformedFileError } from '@rwkv-streams/core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { preprocessImage } from './preprocess-image.js';

/** A w x h RGB image whose left half is red and right half blue, as PNG bytes. */
async function halves(w: number, h: number): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) raw.set(x < w / 2 ? [255, 0, 0] : [0, 0, 255], (y * w + x) * 3);
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}

const plain = { mean: [0, 0, 0], std: [255, 255, 255], channels: 3 as const };

describe('preprocessImage', () => {
  it('normalizes per channel into [C, size, size]', async () => {
    const img = await preprocessImage(await halves(8, 8), { size: 8, policy: 'stretch', ...plain });
    expect(img.original).toEqual({ width: 8, height: 8 });
    expect(img.pixels.length).toBe(3 * 64);
    expect(img.pixels[0]).toBeCloseTo(1, 5); // red channel, top-left: red
    expect(img.pixels[64 + 0]).toBeCloseTo(0, 5); // green
    expect(img.pixels[2 * 64 + 7]).toBeCloseTo(1, 5); // blue channel, top-right: blue
    const n = await preprocessImage(await halves(8, 8), {
      size: 8,
      policy: 'stretch',
      mean: [100, 0, 0],
      std: [2, 1, 1],
      channels: 3,
    });
    expect(n.pixels[0]).toBeCloseTo((255 - 100) / 2, 4);
  });

  it('center-crops after scaling the short side, and letterboxes with black', async () => {
    // 64 x 16: short side 16 -> 32 (x2), then a 28 crop from the middle of 128 x 32.
    const crop = await preprocessImage(await halves(64, 16), {
      size: 28,
      policy: 'center-crop',
      resizeShort: 32,
      ...plain,
    });
    expect(crop.original).toEqual({ width: 64, height: 16 });
    const red = (p: Float32Array, x: number, y: number) => p[y * 28 + x]!;
    expect(red(crop.pixels, 0, 10)).toBeGreaterThan(0.9); // the centre's left part is red
    expect(red(crop.pixels, 27, 10)).toBeLessThan(0.1); // ... and its right part blue
    const box = await preprocessImage(await halves(64, 16), { size: 32, policy: 'letterbox', ...plain });
    const sum = (y: number) => [0, 1, 2].reduce((s, c) => s + box.pixels[c * 1024 + y * 32 + 16]!, 0);
    expect(sum(0)).toBe(0); // padding rows are black
    expect(sum(16)).toBeGreaterThan(0.9);
  });

  it('applies the EXIF orientation', async () => {
    // Stored 32 wide x 16 high, tagged "rotate 90 degrees clockwise": it shows 16 x 32.
    const tagged = await sharp(await halves(32, 16))
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const img = await preprocessImage(tagged, { size: 16, policy: 'stretch', ...plain });
    expect(img.original).toEqual({ width: 16, height: 32 });
    // After rotating clockwise, the stored left half (red) is on top.
    expect(img.pixels[0 * 16 + 8]!).toBeGreaterThan(0.8);
    expect(img.pixels[15 * 16 + 8]!).toBeLessThan(0.2);
  });

  it('converts to greyscale for one-channel models', async () => {
    const img = await preprocessImage(await halves(8, 8), {
      size: 8,
      policy: 'stretch',
      mean: [0],
      std: [255],
      channels: 1,
    });
    expect(img.pixels.length).toBe(64);
    expect(img.pixels[0]!).toBeGreaterThan(0.1); // red has luminance
  });

  it('names what cannot be decoded, and refuses inputs that are not images', async () => {
    const spec = { size: 8, policy: 'stretch' as const, ...plain };
    await expect(preprocessImage(new Uint8Array([1, 2, 3, 4, 5]), spec)).rejects.toThrow(MalformedFileError);
    const png = await halves(8, 8);
    await expect(preprocessImage(png.subarray(0, png.length - 20), spec)).rejects.toThrow(
      /cannot decode image/,
    );
    await expect(preprocessImage('/no/such/image.png', spec)).rejects.toThrow(/\/no\/such\/image\.png/);
    await expect(preprocessImage(42 as unknown as string, spec)).rejects.toThrow(BadInputError);
  });
});
