/**
 * Vision-RWKV 6's bidirectional WKV (the `BiWkv6` op) straight from its definition, in
 * float64 and O(T^2): the reference every backend's linear-time form is tested against.
 * r, k, v, w: [B, T, H, N] row-major (w: decay factors in (0, 1)); u: [H, N]. Per head,
 *   y_t[j] = sum_i r_t[i] (u[i] k_t[i] v_t[j]
 *          + sum_{s != t} (prod_{m strictly between s and t} w_m[i]) k_s[i] v_s[j]).
 */
export function referenceBiWkv6(
  r: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  w: ArrayLike<number>,
  u: ArrayLike<number>,
  B: number,
  T: number,
  H: number,
  N: number,
): Float64Array {
  const y = new Float64Array(B * T * H * N);
  const at = (b: number, t: number, h: number, n: number) => ((b * T + t) * H + h) * N + n;
  const decay = new Float64Array(N);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        // coef[s][i]: the weight of k_s[i] v_s[:] in y_t's key i.
        const add = (s: number, coef: (i: number) => number) => {
          for (let i = 0; i < N; i++) {
            const ri = r[at(b, t, h, i)]! * coef(i) * k[at(b, s, h, i)]!;
            for (let j = 0; j < N; j++) {
              const o = at(b, t, h, j);
              y[o] = y[o]! + ri * v[at(b, s, h, j)]!;
            }
          }
        };
        add(t, (i) => u[h * N + i]!);
        for (const dir of [-1, 1]) {
          decay.fill(1);
          for (let s = t + dir; s >= 0 && s < T; s += dir) {
            add(s, (i) => decay[i]!);
            for (let i = 0; i < N; i++) decay[i] = decay[i]! * w[at(b, s, h, i)]!;
          }
        }
      }
  return y;
}
