/**
 * Vision-RWKV's bidirectional WKV straight from its definition, in float64 and O(T^2):
 * the reference every backend's linear-time form is tested against. k, v: [B, T, C]
 * row-major; w, u: [C] (divided by T here, as the op does).
 */
export function referenceBiWkv4(
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  w: ArrayLike<number>,
  u: ArrayLike<number>,
  B: number,
  T: number,
  C: number,
): Float64Array {
  const y = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++) {
      const wT = w[c]! / T;
      const uT = u[c]! / T;
      const at = (t: number) => (b * T + t) * C + c;
      for (let t = 0; t < T; t++) {
        const ex: number[] = [];
        for (let i = 0; i < T; i++)
          ex.push(i === t ? uT + k[at(t)]! : k[at(i)]! - (Math.abs(t - i) - 1) * wT);
        const m = Math.max(...ex);
        let num = 0;
        let den = 0;
        for (let i = 0; i < T; i++) {
          const e = Math.exp(ex[i]! - m);
          num += e * v[at(i)]!;
          den += e;
        }
        y[at(t)] = num / (den + 1e-6);
      }
    }
  return y;
}
