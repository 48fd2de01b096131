/**
 * Kaldi's triangular mel filterbank, computed as torchaudio's `get_mel_banks` does: in
 * float32 arithmetic (its tensors are float32 whatever the waveform's dtype, and the bank is
 * cast afterwards), emulated here with `Math.fround` after every operation so that the
 * weights are torchaudio's to the last bit (up to the rounding of its float32 `log`).
 *
 * @module
 */

const f = Math.fround;

/** Kaldi's mel scale, `1127 ln(1 + hz / 700)`, in float64 (torchaudio's `mel_scale_scalar`). */
export function melScale(hz: number): number {
  return 1127.0 * Math.log(1.0 + hz / 700.0);
}

/**
 * One triangular filter, stored sparsely: the weights of FFT bins `start .. start + weights.length - 1`.
 */
export interface MelFilter {
  /** First FFT bin with a non-zero weight. */
  readonly start: number;
  /** Weights from `start` on (float32 values, held as float64). */
  readonly weights: Float64Array;
}

/**
 * The mel bank of `numBins` triangles over FFT bins 0 .. paddedWindowSize/2 - 1 (the Nyquist
 * bin has weight 0, as torchaudio pads it). `highFreq` must already be resolved (> 0).
 */
export function kaldiMelBanks(
  numBins: number,
  paddedWindowSize: number,
  sampleRate: number,
  lowFreq: number,
  highFreq: number,
): MelFilter[] {
  const numFftBins = paddedWindowSize / 2;
  const fftBinWidth = sampleRate / paddedWindowSize;
  const melLow = melScale(lowFreq);
  const melHigh = melScale(highFreq);
  const delta = (melHigh - melLow) / (numBins + 1);
  // Python floats meeting float32 tensors are cast to float32 first.
  const melLow32 = f(melLow);
  const delta32 = f(delta);
  const fftBinWidth32 = f(fftBinWidth);
  const mel = new Float64Array(numFftBins);
  for (let k = 0; k < numFftBins; k++) {
    const hz = f(k * fftBinWidth32);
    mel[k] = f(1127.0 * f(Math.log(f(1.0 + f(hz / 700.0)))));
  }
  const filters: MelFilter[] = [];
  for (let b = 0; b < numBins; b++) {
    const left = f(melLow32 + f(b * delta32));
    const center = f(melLow32 + f((b + 1) * delta32));
    const right = f(melLow32 + f((b + 2) * delta32));
    const row = new Float64Array(numFftBins);
    let first = -1;
    let last = -1;
    for (let k = 0; k < numFftBins; k++) {
      const m = mel[k]!;
      const up = f(f(m - left) / f(center - left));
      const down = f(f(right - m) / f(right - center));
      const w = Math.max(0, Math.min(up, down));
      row[k] = w;
      if (w > 0) {
        if (first < 0) first = k;
        last = k;
      }
    }
    filters.push(
      first < 0
        ? { start: 0, weights: new Float64Array(0) }
        : { start: first, weights: row.slice(first, last + 1) },
    );
  }
  return filters;
}
