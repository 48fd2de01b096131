import type { OnnxEmitter } from '../emitter.js';

/** Steps per chunk of the chunked RWKV-7 WKV (the inverse below is exact for 16). */
export const WKV7_CHUNK = 16;

/**
 * RWKV-7 WKV over a whole sequence in chunks of L = 16 steps, for sequence graphs. Same
 * inputs, outputs and function as the step form (see wkv7.ts): s' = s diag(w) + (s a) b^T
 * + v k^T, y = s' r, per head, s indexed [value, key].
 *
 * Within a chunk, with cumulative decays D_t = w_1 ... w_t and the normalized state
 * S^_t = S_t / D_t, the update is additive: S^_t = S_0 + sum_{s<=t} (u_s b~_s^T + v_s k~_s^T)
 * where b~ = b / D_t, k~ = k / D_t and u_t = S_{t-1} a_t solves a strictly triangular
 * system, U = (S_0 A~^T + V^T K)(I - B)^-1 with A~ = a * D_{t-1}, B[s,t] = b~_s . a~_t
 * (s < t), K[s,t] = k~_s . a~_t (s < t). B is nilpotent (B^16 = 0), so
 * (I - B)^-1 = (I + B)(I + B^2)(I + B^4)(I + B^8) exactly. Everything that does not involve
 * the chunk's incoming state is computed for all chunks at once; what is left per chunk is
 * linear in S_0:  Y = S_0 Z + Yc  and  S_L = S_0 Wc + Sc,  two matrix products and two
 * additions inside the Scan. Decays of RWKV-7 are >= exp(-exp(-0.5)) = 0.545, so 1 / D
 * stays below 0.545^-16 = 1.6e4 over a chunk: safe in float32.
 *
 * T is padded inside the graph to a multiple of L with steps that leave the state
 * unchanged (w = 1, everything else 0) and the output is cut back to T.
 */
export function expandWkv7Chunked(
  em: OnnxEmitter,
  inputs: readonly string[],
  outputs: readonly string[],
): void {
  const [r, w, k, v, a, b, s] = inputs as [string, string, string, string, string, string, string];
  const [y, sOut] = outputs as [string, string];
  const p = em.pool;
  const L = WKV7_CHUNK;
  const op = (type: string, ins: string[], attrs: Record<string, number | readonly number[]> = {}) =>
    em.op1(type, ins, attrs);
  const mm = (x: string, z: string) => op('MatMul', [x, z]);
  const t = (x: string) => op('Transpose', [x], { perm: [0, 1, 2, 4, 3] });

  // [B, T, H, N] -> pad T to a multiple of L -> [B, nC, L, H, N] -> [B, nC, H, L, N]
  const T = op('Shape', [r], { start: 1, end: 2 });
  const lConst = p.int64([L]);
  const padLen = op('Mod', [op('Sub', [lConst, op('Mod', [T, lConst])]), lConst]);
  const pads = op('Concat', [p.int64([0, 0, 0, 0, 0]), padLen, p.int64([0, 0])], { axis: 0 });
  const chunked = (x: string, padValue: number) => {
    const padded = op('Pad', [x, pads, p.float([padValue], [])]);
    const shaped = op('Reshape', [
      padded,
      op('Concat', [p.int64([0, -1, L]), op('Shape', [x], { start: 2 })], { axis: 0 }),
    ]);
    return op('Transpose', [shaped], { perm: [0, 1, 3, 2, 4] });
  };
  const [rc, wc, kc, vc, ac, bc] = [
    chunked(r, 0),
    chunked(w, 1),
    chunked(k, 0),
    chunked(v, 0),
    chunked(a, 0),
    chunked(b, 0),
  ];

  // Cumulative decays along the chunk (axis 3): D_t and D_{t-1}; D_L for the chunk's end.
  const logW = op('Log', [wc]);
  const cum = op('CumSum', [logW, p.int64([3], [])]);
  const D = op('Exp', [cum]);
  const Dprev = op('Exp', [op('Sub', [cum, logW])]);
  const DL = op('Slice', [D, p.int64([L - 1]), p.int64([L]), p.int64([3])]); // [B, nC, H, 1, N]
  const aT = op('Mul', [ac, Dprev]);
  const bT = op('Div', [bc, D]);
  const kT = op('Div', [kc, D]);
  const rT = op('Mul', [rc, D]);

  // Intra-chunk interactions [.., L(s), L(t)], masked to s < t (strict) or s <= t.
  const strict: number[] = [];
  const upper: number[] = [];
  for (let i = 0; i < L; i++) {
    for (let j = 0; j < L; j++) {
      strict.push(i < j ? 1 : 0);
      upper.push(i <= j ? 1 : 0);
    }
  }
  const strictMask = p.float(strict, [L, L]);
  const upperMask = p.float(upper, [L, L]);
  const eyeL = p.float(
    Array.from({ length: L * L }, (_, i) => (i % (L + 1) === 0 ? 1 : 0)),
    [L, L],
  );
  const Bm = op('Mul', [mm(bT, t(aT)), strictMask]);
  const Km = op('Mul', [mm(kT, t(aT)), strictMask]);
  const BR = op('Mul', [mm(bT, t(rT)), upperMask]);
  const KR = op('Mul', [mm(kT, t(rT)), upperMask]);

  // (I - B)^-1 = (I + B)(I + B^2)(I + B^4)(I + B^8)
  const B2 = mm(Bm, Bm);
  const B4 = mm(B2, B2);
  const B8 = mm(B4, B4);
  const plusI = (x: string) => op('Add', [x, eyeL]);
  const inv = mm(mm(mm(plusI(Bm), plusI(B2)), plusI(B4)), plusI(B8));

  const vCols = t(vc); // V^T: [.., N, L]
  const X = mm(t(aT), inv); // [.., N_k, L]
  const U0 = mm(mm(vCols, Km), inv); // [.., N_v, L]
  const Z = op('Add', [t(rT), mm(X, BR)]); // [.., N_k, L]
  const Yc = op('Add', [mm(U0, BR), mm(vCols, KR)]); // [.., N_v, L]
  const DLrow = DL; // [.., 1, N_k]: scales key columns
  const N = op('Shape', [r], { start: 3, end: 4 });
  const eyeN = op('EyeLike', [op('ConstantOfShape', [op('Concat', [N, N], { axis: 0 })], {})]);
  const Wc = op('Mul', [op('Add', [eyeN, mm(X, bT)]), DLrow]); // [.., N_k, N_k]
  const Sc = op('Mul', [op('Add', [mm(U0, bT), mm(vCols, kT)]), DLrow]); // [.., N_v, N_k]

  // Across chunks: Y = S Z + Yc, S' = S Wc + Sc (S: [B, H, N_v, N_k]).
  const body = em.child();
  const [sIn, zIn, ycIn, wcIn, scIn] = ['s', 'z', 'yc', 'wc', 'sc'].map((n) => p.fresh(`wkv7c_${n}`)) as [
    string,
    string,
    string,
    string,
    string,
  ];
  const yChunk = body.op1('Add', [body.op1('MatMul', [sIn, zIn]), ycIn]);
  const sNext = body.op1('Add', [body.op1('MatMul', [sIn, wcIn]), scIn]);
  const yAll = p.fresh('wkv7c_y');
  em.op(
    'Scan',
    [s, Z, Yc, Wc, Sc],
    {
      body: body.graph('wkv7_chunk', [sIn, zIn, ycIn, wcIn, scIn], [sNext, yChunk]),
      num_scan_inputs: 4,
      scan_input_axes: [1, 1, 1, 1],
      scan_output_axes: [1],
    },
    [sOut, yAll],
  );
  // [B, nC, H, N, L] -> [B, nC, L, H, N] -> [B, nC * L, H, N] -> [B, T, H, N]
  const back = op('Transpose', [yAll], { perm: [0, 1, 4, 2, 3] });
  const flat = op('Reshape', [
    back,
    op('Concat', [p.int64([0, -1]), op('Shape', [r], { start: 2 })], { axis: 0 }),
  ]);
  em.op1('Slice', [flat, p.int64([0]), T, p.int64([1])], {}, y);
}
