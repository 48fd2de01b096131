/**
 * The Kaldi log-mel filterbank of one frame, and of a whole signal. Matches
 * `torchaudio.compliance.kaldi.fbank` (see {@link FbankOptions} for what is fixed); the
 * arithmetic is float64, the bank float32 as torchaudio makes it.
 *
 * @module
 */
import { BadInputError } from '@rwkv-streams/core';
import {
  type FbankOptions,
  numFrames,
  type ResolvedFbankOptions,
  resolveFbankOptions,
} from './fbank-options.js';
import { RealPowerSpectrum } from './fft.js';
import { kaldiMelBanks, type MelFilter } from './mel-banks.js';
import { poveyWindow } from './window.js';

/** Kaldi's log floor: `std::numeric_limits<float>::epsilon()`, as torchaudio uses it. */
export const LOG_FLOOR = 1.1920928955078125e-7;

/** The samples a frame is read from: float32 (the usual), float64 or plain numbers. */
export type SampleArray = Float32Array | Float64Array | readonly number[];

/**
 * Computes log-mel frames. Holds its scratch buffers: one instance is not reentrant, but
 * it is cheap (a few KB), so make one per stream.
 */
export class FbankComputer {
  /** The options in force, defaults filled in. */
  readonly options: ResolvedFbankOptions;
  private readonly window: Float64Array;
  private readonly filters: MelFilter[];
  private readonly spectrum: RealPowerSpectrum;
  private readonly frame: Float64Array;
  private readonly power: Float64Array;

  /** @throws {@link BadInputError} for an invalid option (named). */
  constructor(options: FbankOptions = {}) {
    this.options = resolveFbankOptions(options);
    const o = this.options;
    this.window = poveyWindow(o.windowSize);
    this.filters = kaldiMelBanks(o.numMelBins, o.paddedWindowSize, o.sampleRate, o.lowFreq, o.highFreq);
    this.spectrum = new RealPowerSpectrum(o.paddedWindowSize);
    this.frame = new Float64Array(o.paddedWindowSize);
    this.power = new Float64Array(o.paddedWindowSize / 2 + 1);
  }

  /** Feature dimension (the number of mel bins). */
  get dim(): number {
    return this.options.numMelBins;
  }

  /**
   * The log-mel features of the frame that starts at `samples[offset]` (windowSize samples
   * are read), written to `out[outOffset ..]`. The result depends on those samples alone,
   * which is what makes streaming bit-exact.
   */
  computeFrame(samples: SampleArray, offset: number, out: Float32Array | Float64Array, outOffset = 0): void {
    const { windowSize, inputScale, preemphasis } = this.options;
    const x = this.frame;
    let sum = 0;
    for (let i = 0; i < windowSize; i++) {
      const v = samples[offset + i]! * inputScale;
      x[i] = v;
      sum += v;
    }
    // remove_dc_offset
    const mean = sum / windowSize;
    for (let i = 0; i < windowSize; i++) x[i]! -= mean;
    // Pre-emphasis, x[j] -= c * x[j-1], with x[-1] := x[0] (torchaudio's replicate pad);
    // walking backwards reads each x[j-1] before it changes.
    if (preemphasis !== 0) {
      for (let i = windowSize - 1; i > 0; i--) x[i] = x[i]! - preemphasis * x[i - 1]!;
      x[0] = x[0]! - preemphasis * x[0]!;
    }
    const w = this.window;
    for (let i = 0; i < windowSize; i++) x[i] = x[i]! * w[i]!;
    x.fill(0, windowSize);
    this.spectrum.power(x, this.power);
    const p = this.power;
    const filters = this.filters;
    for (let m = 0; m < filters.length; m++) {
      const { start, weights } = filters[m]!;
      let e = 0;
      for (let k = 0; k < weights.length; k++) e += weights[k]! * p[start + k]!;
      out[outOffset + m] = Math.log(Math.max(e, LOG_FLOOR));
    }
  }
}

/**
 * The filterbank of a whole signal: one Float32Array of `numMelBins` values per frame
 * (Kaldi's snip_edges: only whole frames, so fewer samples than one frame give none).
 *
 * @param samples - Mono samples at `options.sampleRate` (default 16 kHz), floats in [-1, 1)
 *   (scaled by `inputScale`, default 32768, before anything else).
 * @throws {@link BadInputError} for an invalid option, or a sample that is not finite (named by index).
 */
export function computeFbank(samples: SampleArray, options: FbankOptions = {}): Float32Array[] {
  const computer = new FbankComputer(options);
  checkFinite(samples, 0);
  const { windowSize, windowShift } = computer.options;
  const n = numFrames(samples.length, windowSize, windowShift);
  const frames: Float32Array[] = [];
  for (let t = 0; t < n; t++) {
    const out = new Float32Array(computer.dim);
    computer.computeFrame(samples, t * windowShift, out);
    frames.push(out);
  }
  return frames;
}

/**
 * Checks that every sample is a finite number (a NaN would spread through every frame
 * that contains it).
 *
 * @param base - Index of `samples[0]` in the whole stream, for the message.
 * @throws {@link BadInputError} naming the first bad sample by its stream index (`samples[i]`).
 */
export function checkFinite(samples: SampleArray, base: number): void {
  for (let i = 0; i < samples.length; i++) {
    if (!Number.isFinite(samples[i])) {
      throw new BadInputError(`sample ${base + i} is ${String(samples[i])}, not a finite number`, {
        field: `samples[${base + i}]`,
      });
    }
  }
}
