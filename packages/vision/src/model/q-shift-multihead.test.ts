import { GraphBuilder, onnxBackend, SeededRandom } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { qShiftMultihead } from './q-shift-multihead.js';

/** The official q_shift_multihead's slicing, written directly: x [B, rows*cols, C]. */
function officialQShiftMultihead(
  x: Float32Array,
  B: number,
  rows: number,
  cols: number,
  C: number,
  hd: number,
  s: number,
) {
  const out = new Float32Array(x.length);
  const at = (b: number, r: number, c: number, ch: number) => (b * rows * cols + r * cols + c) * C + ch;
  for (let b = 0; b < B; b++)
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++)
        for (let ch = 0; ch < C; ch++) {
          const d = ch % hd;
          let [sr, sc] = [r, c];
          if (d < hd / 4) sc = c - s;
          else if (d < hd / 2) sc = c + s;
          else if (d < (3 * hd) / 4) sr = r - s;
          else sr = r + s;
          if (sr >= 0 && sr < rows && sc >= 0 && sc < cols) out[at(b, r, c, ch)] = x[at(b, sr, sc, ch)]!;
        }
  return out;
}

describe('qShiftMultihead (VRWKV6 Q-shift)', () => {
  it.each([
    [1, 8, 1],
    [3, 8, 1],
    [2, 12, 2],
  ])('matches the official slicing with %i heads of %i channels, shift %i', async (heads, hd, shift) => {
    const [B, rows, cols] = [2, 3, 5];
    const C = heads * hd;
    const b = new GraphBuilder('qs');
    const x = b.input('x', 'float32', ['batch', rows * cols, C]);
    b.output('y', qShiftMultihead(b, x, rows, cols, heads, shift));
    const compiled = await onnxBackend.compile(b.build(), { device: 'cpu' });
    const rng = new SeededRandom(heads * 10 + shift);
    const data = Float32Array.from({ length: B * rows * cols * C }, () => rng.uniform());
    const y = (await compiled.run({ x: { dtype: 'float32', dims: [B, rows * cols, C], data } }))['y']!.data;
    expect(Array.from(y)).toEqual(Array.from(officialQShiftMultihead(data, B, rows, cols, C, hd, shift)));
    await compiled.dispose();
  });
});
