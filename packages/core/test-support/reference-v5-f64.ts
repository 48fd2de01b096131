import type { RwkvConfig } from '../src/rwkv/config.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';

/**
 * A float64 RWKV-5.2 RNN written straight from the official RWKV_v5_demo.py formulas,
 * one token at a time, for tests: it tells how far a float32 result is from the exact
 * function (the official float32 code itself is ~2e-3 away on ill-conditioned tiny models).
 * Returns the logits after every token.
 */
export function referenceV5Float64(
  config: RwkvConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  tokens: readonly number[],
): Float64Array[] {
  const { nEmbd: C, nHead: H, headSize: N, nLayer: L, dimFfn: F, nVocab: V } = config;
  const cache = new Map<string, Float64Array>();
  const W = (name: string): Float64Array => {
    let w = cache.get(name);
    if (!w) {
      w = Float64Array.from(tensors.get(name)!.data);
      cache.set(name, w);
    }
    return w;
  };
  const layerNorm = (
    x: Float64Array,
    w: Float64Array,
    b: Float64Array,
    eps: number,
    offset = 0,
  ): Float64Array => {
    let mean = 0;
    for (const v of x) mean += v;
    mean /= x.length;
    let vari = 0;
    for (const v of x) vari += (v - mean) ** 2;
    vari /= x.length;
    return x.map((v, i) => ((v - mean) / Math.sqrt(vari + eps)) * w[offset + i]! + b[offset + i]!);
  };
  const matVec = (m: Float64Array, x: Float64Array, rows: number): Float64Array => {
    const out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      for (let i = 0; i < x.length; i++) acc += m[r * x.length + i]! * x[i]!;
      out[r] = acc;
    }
    return out;
  };
  const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
  const lerp = (x: Float64Array, prev: Float64Array, mix: Float64Array) =>
    x.map((v, i) => v * mix[i]! + prev[i]! * (1 - mix[i]!));
  const state = Array.from({ length: L }, () => ({
    att: new Float64Array(C),
    ffn: new Float64Array(C),
    s: new Float64Array(H * N * N),
  }));
  const out: Float64Array[] = [];
  for (const token of tokens) {
    let x = layerNorm(
      W('emb.weight').slice(token * C, token * C + C),
      W('blocks.0.ln0.weight'),
      W('blocks.0.ln0.bias'),
      1e-5,
    );
    for (let l = 0; l < L; l++) {
      const p = `blocks.${l}.`;
      const st = state[l]!;
      const xa = layerNorm(x, W(`${p}ln1.weight`), W(`${p}ln1.bias`), 1e-5);
      const r = matVec(W(`${p}att.receptance.weight`), lerp(xa, st.att, W(`${p}att.time_mix_r`)), C);
      const k = matVec(W(`${p}att.key.weight`), lerp(xa, st.att, W(`${p}att.time_mix_k`)), C);
      const v = matVec(W(`${p}att.value.weight`), lerp(xa, st.att, W(`${p}att.time_mix_v`)), C);
      const g = matVec(W(`${p}att.gate.weight`), lerp(xa, st.att, W(`${p}att.time_mix_g`)), C).map(
        (z) => z * sigmoid(z),
      );
      st.att = xa;
      const decay = W(`${p}att.time_decay`);
      const bonus = W(`${p}att.time_faaaa`);
      const y = new Float64Array(C);
      for (let h = 0; h < H; h++) {
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let i = 0; i < N; i++)
            acc +=
              r[h * N + i]! *
              (bonus[h * N + i]! * k[h * N + i]! * v[h * N + j]! + st.s[(h * N + i) * N + j]!);
          y[h * N + j] = acc;
        }
        for (let i = 0; i < N; i++) {
          const w = Math.exp(-Math.exp(decay[h * N + i]!));
          for (let j = 0; j < N; j++)
            st.s[(h * N + i) * N + j] = k[h * N + i]! * v[h * N + j]! + w * st.s[(h * N + i) * N + j]!;
        }
      }
      const normed = new Float64Array(C);
      for (let h = 0; h < H; h++) {
        const head = layerNorm(
          y.slice(h * N, h * N + N),
          W(`${p}att.ln_x.weight`),
          W(`${p}att.ln_x.bias`),
          64e-5,
          h * N,
        );
        for (let i = 0; i < N; i++) normed[h * N + i] = head[i]! * g[h * N + i]!;
      }
      const att = matVec(W(`${p}att.output.weight`), normed, C);
      x = x.map((xv, i) => xv + att[i]!);
      const xf = layerNorm(x, W(`${p}ln2.weight`), W(`${p}ln2.bias`), 1e-5);
      const rr = matVec(W(`${p}ffn.receptance.weight`), lerp(xf, st.ffn, W(`${p}ffn.time_mix_r`)), C).map(
        sigmoid,
      );
      const kk = matVec(W(`${p}ffn.key.weight`), lerp(xf, st.ffn, W(`${p}ffn.time_mix_k`)), F).map(
        (z) => Math.max(z, 0) ** 2,
      );
      const vv = matVec(W(`${p}ffn.value.weight`), kk, C);
      st.ffn = xf;
      x = x.map((xv, i) => xv + rr[i]! * vv[i]!);
    }
    out.push(matVec(W('head.weight'), layerNorm(x, W('ln_out.weight'), W('ln_out.bias'), 1e-5), V));
  }
  return out;
}
