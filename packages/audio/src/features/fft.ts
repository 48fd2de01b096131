/**
 * A typed wrapper around fft.js (radix-4, float64), the FFT the filterbank uses.
 *
 * @module
 */

import { BadInputError } from '@rwkv-streams/core';
import FFT from 'fft.js';

/** The shape of fft.js's class that we use (its own declaration types everything as `any`). */
interface FftJs {
  readonly size: number;
  createComplexArray(): number[];
  realTransform(out: number[] | Float64Array, input: ArrayLike<number>): void;
}

/**
 * The power spectrum of a real signal of power-of-two length `size`: `|X[k]|^2` for
 * k = 0..size/2 (the non-redundant half, Nyquist bin included). One instance per size;
 * it keeps its buffers, so it is not reentrant.
 */
export class RealPowerSpectrum {
  /** The transform length. */
  readonly size: number;
  private readonly fft: FftJs;
  private readonly out: Float64Array;

  /**
   * @param size - A power of two >= 4 (fft.js's radix-4 needs at least 4).
   * @throws {@link BadInputError} otherwise.
   */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 4 || (size & (size - 1)) !== 0) {
      throw new BadInputError(`FFT size must be a power of two >= 4, got ${size}`, { field: 'size' });
    }
    this.size = size;
    this.fft = new (FFT as unknown as new (n: number) => FftJs)(size);
    this.out = new Float64Array(2 * size);
  }

  /**
   * Writes `|X[k]|^2`, k = 0..size/2, of `input` (length `size`) into `power` (length >= size/2 + 1).
   */
  power(input: Float64Array, power: Float64Array): void {
    // fft.js fills the left half of the interleaved (re, im) spectrum, which is all a
    // real signal needs.
    this.fft.realTransform(this.out, input);
    const out = this.out;
    const half = this.size >> 1;
    for (let k = 0; k <= half; k++) {
      const re = out[2 * k]!;
      const im = out[2 * k + 1]!;
      power[k] = re * re + im * im;
    }
  }
}
