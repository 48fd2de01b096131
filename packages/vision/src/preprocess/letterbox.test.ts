import { MalformedFileError } from '@rwkv-streams/core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { letterboxBox, letterboxImage, unletterboxMask } from './letterbox.js';

const grey = { size: 32, mean: [10], std: [2], channels: 1 as const };

describe('letterbox', () => {
  it('places an image scaled to fit, centred', () => {
    expect(letterboxBox(64, 32, 32)).toEqual({ left: 0, top: 8, width: 32, height: 16 });
    // 21 spare columns: 10 left, 11 right
    expect(letterboxBox(30, 90, 32)).toEqual({ left: 10, top: 0, width: 11, height: 32 });
    expect(letterboxBox(32, 32, 32)).toEqual({ left: 0, top: 0, width: 32, height: 32 });
  });

  it('pads with black (normalized) and keeps an image of the input size as it is', async () => {
    const raw = Buffer.from(Array.from({ length: 32 * 32 }, (_, i) => (i * 7) % 256));
    const png = await sharp(raw, { raw: { width: 32, height: 32, channels: 1 } })
      .png()
      .toBuffer();
    const same = await letterboxImage(png, grey);
    expect(same.box).toEqual({ left: 0, top: 0, width: 32, height: 32 });
    expect(Array.from(same.pixels)).toEqual(Array.from(raw, (v) => (v - 10) / 2));

    const wide = await sharp({ create: { width: 64, height: 32, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer();
    const lb = await letterboxImage(wide, grey);
    expect(lb.original).toEqual({ width: 64, height: 32 });
    expect(lb.box).toEqual({ left: 0, top: 8, width: 32, height: 16 });
    expect(lb.pixels[0]).toBe(-5); // padding: (0 - 10) / 2
    expect(lb.pixels[8 * 32 + 5]).toBe(122.5); // inside: (255 - 10) / 2
    expect(lb.pixels[24 * 32 + 5]).toBe(-5);
  });

  it('maps a mask back onto the original size by nearest pixel', () => {
    const size = 4;
    const box = { left: 0, top: 1, width: 4, height: 2 }; // an 8 x 4 image in a 4 x 4 square
    const mask = Uint8Array.from([9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9]);
    const back = unletterboxMask(mask, size, box, 8, 4);
    expect([...back]).toEqual([
      1, 1, 2, 2, 3, 3, 4, 4, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 5, 5, 6, 6, 7, 7, 8, 8,
    ]);
  });

  it('a file that is not an image is a MalformedFileError naming it', async () => {
    await expect(letterboxImage(new Uint8Array([1, 2, 3]), grey)).rejects.toThrow(MalformedFileError);
    await expect(letterboxImage('/nonexistent/scene.png', grey)).rejects.toThrow(/scene\.png|cannot decode/);
  });
});
