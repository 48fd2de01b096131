import { MalformedFileError } from '@rwkv-streams/core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { stitchTileMasks, tileImage } from './tile.js';

describe('tiling', () => {
  it('cuts an image into black-padded tiles at its own resolution and stitches masks back', async () => {
    const [W, H, S] = [10, 7, 4];
    const raw = Buffer.from(Array.from({ length: W * H }, (_, i) => (i * 13) % 256));
    const png = await sharp(raw, { raw: { width: W, height: H, channels: 1 } })
      .png()
      .toBuffer();
    const t = await tileImage(png, { size: S, mean: [0], std: [1], channels: 1 });
    expect([t.cols, t.rows, t.original.width, t.original.height]).toEqual([3, 2, 10, 7]);
    expect(t.pixels.length).toBe(6 * S * S);
    for (let y = 0; y < 2 * S; y++)
      for (let x = 0; x < 3 * S; x++) {
        const v = t.pixels[(Math.floor(y / S) * 3 + Math.floor(x / S)) * S * S + (y % S) * S + (x % S)];
        expect(v).toBe(x < W && y < H ? raw[y * W + x] : 0);
      }
    // masks equal to the tiles' own bytes stitch back to the image
    const back = stitchTileMasks(Uint8Array.from(t.pixels), S, t.cols, W, H);
    expect([...back]).toEqual([...raw]);
  });

  it('a corrupt image is a MalformedFileError', async () => {
    await expect(
      tileImage(new Uint8Array([0, 1]), { size: 4, mean: [0], std: [1], channels: 1 }),
    ).rejects.toThrow(MalformedFileError);
  });
});
