import { describe, expect, it } from 'vitest';
import { onnxBackend } from '../backends/onnx/onnx-backend.js';
import { ShapeMismatchError } from '../errors.js';
import { SeededRandom } from '../rwkv/random-weights.js';
import { GraphBuilder } from './builder.js';

/**
 * VRWKV's q_shift written as the official code slices it: x [B, rows*cols, C], the
 * first four groups of g = floor(C * gamma) channels moved right, left, down, up.
 */
function officialQShift(
  x: Float32Array,
  B: number,
  rows: number,
  cols: number,
  C: number,
  g: number,
  s: number,
) {
  const out = new Float32Array(x.length);
  const at = (b: number, r: number, c: number, ch: number) => (b * rows * cols + r * cols + c) * C + ch;
  for (let b = 0; b < B; b++)
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++)
        for (let ch = 0; ch < C; ch++) {
          let [sr, sc] = [r, c];
          if (ch < g) sc = c - s;
          else if (ch < 2 * g) sc = c + s;
          else if (ch < 3 * g) sr = r - s;
          else if (ch < 4 * g) sr = r + s;
          if (sr >= 0 && sr < rows && sc >= 0 && sc < cols) out[at(b, r, c, ch)] = x[at(b, sr, sc, ch)]!;
        }
  return out;
}

describe('QShift (ONNX lowering: one Gather of channel runs)', () => {
  it.each([
    // rows, cols, C, group, shift
    [3, 5, 8, 2, 1], // quarters
    [4, 4, 10, 2, 1], // two channels left unshifted
    [2, 3, 12, 3, 2], // shift 2
    [2, 3, 6, 1, 3], // a shift as wide as the grid: zeros
    [3, 3, 7, 0, 1], // group 0: nothing moves
  ])('matches the official slicing on a %i x %i grid, %i channels, group %i, shift %i', async (rows, cols, C, group, shift) => {
    const B = 2;
    const b = new GraphBuilder('qs');
    const x = b.input('x', 'float32', ['batch', rows * cols, C]);
    b.output('y', b.qShift(x, { rows, cols, group, shift, heads: 1 }));
    const compiled = await onnxBackend.compile(b.build(), { device: 'cpu' });
    const rng = new SeededRandom(rows * 100 + C);
    const data = Float32Array.from({ length: B * rows * cols * C }, () => rng.uniform() + 0.5);
    const y = (await compiled.run({ x: { dtype: 'float32', dims: [B, rows * cols, C], data } }))['y']!.data;
    expect(Array.from(y)).toEqual(Array.from(officialQShift(data, B, rows, cols, C, group, shift)));
    await compiled.dispose();
  });

  it('names the problem in bad attributes', () => {
    const b = new GraphBuilder('qs');
    const x = b.input('x', 'float32', ['batch', 12, 8]);
    expect(() => b.qShift(x, { rows: 3, cols: 5, group: 2, shift: 1, heads: 1 })).toThrow(
      /12 tokens are not a 3 x 5 grid/,
    );
    expect(() => b.qShift(x, { rows: 3, cols: 4, group: 2, shift: 1, heads: 3 })).toThrow(ShapeMismatchError);
    expect(() => b.qShift(x, { rows: 3, cols: 4, group: -1, shift: 1, heads: 1 })).toThrow(
      /group must be a non-negative/,
    );
    const flat = b.input('f', 'float32', ['batch', 96]);
    expect(() => b.qShift(flat, { rows: 3, cols: 4, group: 2, shift: 1, heads: 1 })).toThrow(
      /must be \[B, T, C\]/,
    );
  });
});
