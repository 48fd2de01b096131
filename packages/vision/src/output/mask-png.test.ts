import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { writeMaskPng, writeOverlayPng } from './mask-png.js';
import { classPalette } from './palette.js';

describe('mask PNGs', () => {
  const palette = classPalette(11, 10);
  const mask = {
    data: Uint8Array.from({ length: 6 * 4 }, (_, i) => (i % 3 === 0 ? 10 : i % 11)),
    width: 6,
    height: 4,
  };

  it('a palette PNG whose colours give back every class exactly', async () => {
    const png = await writeMaskPng(mask, palette);
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect(meta.isPalette).toBe(true);
    const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([6, 4, 3]);
    const back = Array.from({ length: 24 }, (_, i) =>
      palette.findIndex((c) => c[0] === data[i * 3] && c[1] === data[i * 3 + 1] && c[2] === data[i * 3 + 2]),
    );
    expect(back).toEqual([...mask.data]);
  });

  it('an overlay: background pixels unchanged, the others blended with their class colour', async () => {
    const image = await sharp({
      create: { width: 6, height: 4, channels: 3, background: { r: 100, g: 50, b: 200 } },
    })
      .png()
      .toBuffer();
    const png = await writeOverlayPng(image, mask, palette, { background: 10, alpha: 0.25 });
    const { data } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    mask.data.forEach((m, i) => {
      const want =
        m === 10
          ? [100, 50, 200]
          : [100, 50, 200].map((v, j) => Math.round(0.75 * v + 0.25 * palette[m]![j]!));
      expect([data[i * 3], data[i * 3 + 1], data[i * 3 + 2]]).toEqual(want);
    });
    await expect(writeOverlayPng(image, { ...mask, width: 4, height: 6 }, palette)).rejects.toThrow(
      /mask is 4x6/,
    );
  });

  it('refuses a class the palette has no colour for', async () => {
    await expect(
      writeMaskPng({ data: Uint8Array.from([0, 11]), width: 2, height: 1 }, palette),
    ).rejects.toThrow(/class 11/);
  });
});
