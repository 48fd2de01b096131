/**
 * Kaldi's "povey" window: a symmetric Hann window raised to the power 0.85 (zero at both ends).
 *
 * @module
 */

/**
 * The povey window of `size` samples, computed in the order torchaudio uses
 * (`hann_window(size, periodic=False).pow(0.85)`, in float64).
 */
export function poveyWindow(size: number): Float64Array {
  const w = new Float64Array(size);
  const a = (Math.PI * 2) / (size - 1);
  for (let n = 0; n < size; n++) {
    const hann = -0.5 * Math.cos(n * a) + 0.5;
    w[n] = hann ** 0.85;
  }
  return w;
}
