import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import { SeededRandom } from '../rwkv/random-weights.js';
import { argmax, softmax } from './sampling.js';
import { checkDrawOptions, drawKey, drawToken, drawUniform, mix32 } from './token-draw.js';

describe('token draws', () => {
  it('mix32 is lowbias32 (values printed by the C function on uint32_t)', () => {
    expect(mix32(0)).toBe(0);
    expect(mix32(1)).toBe(1753845952);
    expect(mix32(0xffffffff)).toBe(1734902346);
  });

  it('u lies strictly inside (0, 1), an odd multiple of 2^-24 that float32 holds exactly', () => {
    let top = 0;
    for (let i = 0; i < 20000; i++) {
      const u = drawUniform(drawKey(7, 3, i), i * 31);
      expect(u).toBeGreaterThan(0);
      expect(u).toBeLessThan(1);
      expect((u * 2 ** 24) % 2).toBe(1);
      expect(Math.fround(u)).toBe(u);
      top = Math.max(top, u);
    }
    expect(top).toBeGreaterThan(0.999); // the whole range is reached
    expect(drawUniform(0, 0) <= 1 - 2 ** -24).toBe(true);
  });

  it('temperature 0 is the argmax, ties to the lowest index, NaN never wins', () => {
    const rng = new SeededRandom(3);
    const logits = Float32Array.from({ length: 1000 }, () => rng.normal());
    expect(drawToken(logits, 0, 0, 0, 0)).toBe(argmax(logits));
    expect(drawToken([1, 5, 5, 2], 0, 9, 1, 1)).toBe(1);
    expect(drawToken([Number.NaN, 2, Number.NaN, 3, 1], 0, 0, 0, 0)).toBe(3);
    expect(drawToken([Number.NaN, Number.NaN], 0.5, 0, 0, 0)).toBe(-1);
    expect(drawToken([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY], 0, 0, 0, 0)).toBe(0);
  });

  it('draws each token with its softmax probability at the temperature', () => {
    const logits = [0.3, -1.2, 2.0, 0.0, 1.1, -0.4];
    for (const temperature of [1, 0.5]) {
      const p = softmax(logits, temperature);
      const n = 40000;
      const counts = new Array<number>(logits.length).fill(0);
      for (let s = 0; s < n; s++) counts[drawToken(logits, temperature, 123, 0, s)]!++;
      // each count within 5 standard deviations of n p (a failing draw rule is far outside)
      for (let i = 0; i < logits.length; i++) {
        const sd = Math.sqrt(n * p[i]! * (1 - p[i]!));
        expect(Math.abs(counts[i]! - n * p[i]!)).toBeLessThan(5 * sd + 1);
      }
    }
  });

  it('streams, steps and seeds draw independently and reproducibly', () => {
    const logits = new Float32Array(64); // uniform: every token equally likely
    const by = (seed: number, stream: number) =>
      Array.from({ length: 32 }, (_, s) => drawToken(logits, 1, seed, stream, s));
    expect(by(1, 0)).toEqual(by(1, 0));
    expect(by(1, 0)).not.toEqual(by(1, 1));
    expect(by(1, 0)).not.toEqual(by(2, 0));
    expect(new Set(by(1, 0)).size).toBeGreaterThan(16);
  });

  it('refuses a bad temperature or seed by name', () => {
    expect(() => checkDrawOptions({ temperature: -1 })).toThrow(BadInputError);
    expect(() => checkDrawOptions({ temperature: Number.NaN })).toThrow(/temperature/);
    expect(() => checkDrawOptions({ temperature: Number.POSITIVE_INFINITY })).toThrow(/temperature/);
    expect(() => checkDrawOptions({ seed: -1 })).toThrow(/seed/);
    expect(() => checkDrawOptions({ seed: 1.5 })).toThrow(/seed/);
    expect(() => checkDrawOptions({ seed: 2 ** 32 })).toThrow(/seed/);
    expect(checkDrawOptions({})).toEqual({ temperature: 1, seed: 0 });
  });
});
