/**
 * Options of the Kaldi filterbank, with the defaults of this package (the usual ASR
 * front end: 80 bins, 25 ms / 10 ms, povey window, no dither) and their validation.
 *
 * @module
 */
import { BadInputError } from '@rwkv-streams/core';

/**
 * Filterbank options, named like `torchaudio.compliance.kaldi.fbank`'s arguments. What is
 * not an option is fixed to Kaldi's choice: `window_type` povey, `round_to_power_of_two`
 * true, `snip_edges` true, `use_energy` false, `use_log_fbank` true, `use_power` true,
 * `remove_dc_offset` true, `dither` 0, `raw_energy` unused (no energy column).
 */
export interface FbankOptions {
  /** Sample rate of the input, Hz. Default 16000. */
  readonly sampleRate?: number;
  /** Number of triangular mel bins. Default 80. */
  readonly numMelBins?: number;
  /** Frame length, ms. Default 25. */
  readonly frameLengthMs?: number;
  /** Frame shift, ms. Default 10. */
  readonly frameShiftMs?: number;
  /** Pre-emphasis coefficient in [0, 1]. Default 0.97. */
  readonly preemphasis?: number;
  /** Lowest mel bin edge, Hz. Default 20. */
  readonly lowFreq?: number;
  /** Highest mel bin edge, Hz; <= 0 means an offset from Nyquist. Default 0 (Nyquist). */
  readonly highFreq?: number;
  /**
   * Factor applied to the samples first. Our samples are floats in [-1, 1); Kaldi (and
   * torchaudio's Kaldi-compatible functions, by convention) work on the int16 range, so the
   * default is 32768: the features then equal `kaldi.fbank(int16_samples)`. It matters
   * beyond an additive constant because of the log floor (float32 epsilon).
   */
  readonly inputScale?: number;
}

/** {@link FbankOptions} with every default filled in and the derived sizes. */
export interface ResolvedFbankOptions {
  /** See {@link FbankOptions.sampleRate}. */
  readonly sampleRate: number;
  /** See {@link FbankOptions.numMelBins}. */
  readonly numMelBins: number;
  /** See {@link FbankOptions.frameLengthMs}. */
  readonly frameLengthMs: number;
  /** See {@link FbankOptions.frameShiftMs}. */
  readonly frameShiftMs: number;
  /** See {@link FbankOptions.preemphasis}. */
  readonly preemphasis: number;
  /** See {@link FbankOptions.lowFreq}. */
  readonly lowFreq: number;
  /** The highest mel edge in Hz, resolved (> 0: an offset from Nyquist already applied). */
  readonly highFreq: number;
  /** See {@link FbankOptions.inputScale}. */
  readonly inputScale: number;
  /** Samples per frame (`int(sampleRate * frameLengthMs / 1000)`, as torchaudio truncates). */
  readonly windowSize: number;
  /** Samples between frame starts. */
  readonly windowShift: number;
  /** FFT length: the next power of two >= windowSize. */
  readonly paddedWindowSize: number;
}

function positive(field: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new BadInputError(`fbank: ${field} must be a finite number > 0, got ${String(value)}`, { field });
  }
  return value;
}

function finite(field: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new BadInputError(`fbank: ${field} must be a finite number, got ${String(value)}`, { field });
  }
  return value;
}

/**
 * Fills defaults and checks every option (the checks torchaudio asserts, as typed errors).
 *
 * @throws {@link BadInputError} naming the option that is wrong.
 */
export function resolveFbankOptions(options: FbankOptions = {}): ResolvedFbankOptions {
  if (typeof options !== 'object' || options === null) {
    throw new BadInputError('fbank: options must be an object', { field: 'options' });
  }
  const sampleRate = positive('sampleRate', options.sampleRate ?? 16000);
  const numMelBins = options.numMelBins ?? 80;
  if (!Number.isInteger(numMelBins) || numMelBins <= 3) {
    throw new BadInputError(`fbank: numMelBins must be an integer > 3, got ${String(numMelBins)}`, {
      field: 'numMelBins',
    });
  }
  const frameLengthMs = positive('frameLengthMs', options.frameLengthMs ?? 25);
  const frameShiftMs = positive('frameShiftMs', options.frameShiftMs ?? 10);
  const preemphasis = finite('preemphasis', options.preemphasis ?? 0.97);
  if (preemphasis < 0 || preemphasis > 1) {
    throw new BadInputError(`fbank: preemphasis must be in [0, 1], got ${preemphasis}`, {
      field: 'preemphasis',
    });
  }
  const lowFreq = finite('lowFreq', options.lowFreq ?? 20);
  const highFreqOpt = finite('highFreq', options.highFreq ?? 0);
  const inputScale = positive('inputScale', options.inputScale ?? 32768);
  const nyquist = 0.5 * sampleRate;
  const highFreq = highFreqOpt <= 0 ? highFreqOpt + nyquist : highFreqOpt;
  if (!(lowFreq >= 0 && lowFreq < nyquist && highFreq > 0 && highFreq <= nyquist && lowFreq < highFreq)) {
    throw new BadInputError(
      `fbank: need 0 <= lowFreq < highFreq <= Nyquist (${nyquist}), got lowFreq ${lowFreq}, highFreq ${highFreq}`,
      { field: 'lowFreq' },
    );
  }
  // torchaudio: int(sample_frequency * frame_length * 0.001), truncating.
  const windowSize = Math.trunc(sampleRate * frameLengthMs * 0.001);
  const windowShift = Math.trunc(sampleRate * frameShiftMs * 0.001);
  if (windowSize < 2) {
    throw new BadInputError(`fbank: the frame is ${windowSize} samples; it must be at least 2`, {
      field: 'frameLengthMs',
    });
  }
  if (windowShift < 1) {
    throw new BadInputError('fbank: the frame shift is less than one sample', { field: 'frameShiftMs' });
  }
  let paddedWindowSize = 1;
  while (paddedWindowSize < windowSize) paddedWindowSize *= 2;
  paddedWindowSize = Math.max(paddedWindowSize, 4);
  return {
    sampleRate,
    numMelBins,
    frameLengthMs,
    frameShiftMs,
    preemphasis,
    lowFreq,
    highFreq,
    inputScale,
    windowSize,
    windowShift,
    paddedWindowSize,
  };
}

/**
 * How many frames `numSamples` samples give (Kaldi's `snip_edges`: only whole frames).
 */
export function numFrames(numSamples: number, windowSize: number, windowShift: number): number {
  if (numSamples < windowSize) return 0;
  return 1 + Math.floor((numSamples - windowSize) / windowShift);
}
