import { BadInputError } from '../errors.js';
import type { GraphBuilder } from '../graph/builder.js';
import type { Value } from '../graph/ir.js';

/**
 * BlinkDL's "x051a" RWKV block (an RWKV-5 variant; RWKV-TS's `Block`), for a whole
 * sequence from a zero state: LayerNorms and Linears with biases, static token-shift mixes
 * `x + (shift(x) - x) * time_maa_*`, the WKV-5 recurrence with decay
 * exp(-exp(time_decay)) and bonus time_faaaa per head, GroupNorm (eps 64e-5) and a SiLU
 * gate, then a squared-ReLU FFN gated by sigmoid(receptance). x: [B, T, C] -> [B, T, C].
 * `param(name)` returns the weight of `name` relative to the block (e.g. 'tmix.key.weight');
 * `decay` and `bonus` are the [H, N] tensors (per-head values repeated over the head).
 */
export function x051aBlock(
  b: GraphBuilder,
  x: Value,
  param: (name: string) => Value,
  decayAndBonus: { readonly decay: Value; readonly bonus: Value },
  nHead: number,
): Value {
  const C = x.shape[2];
  if (typeof C !== 'number' || C % nHead !== 0)
    throw new BadInputError(`x051a: width ${String(C)} is not a multiple of ${nHead} heads`, {
      field: 'n_head',
    });
  const N = C / nHead;
  const [B, T] = [x.shape[0]!, x.shape[1]!];
  const ln = (v: Value, p: string) => b.layerNorm(v, param(`${p}.weight`), param(`${p}.bias`), 1e-5);
  const lin = (v: Value, p: string) => b.add(b.linear(v, param(`${p}.weight`)), param(`${p}.bias`));
  const zero = b.scalar(0);
  // shift(x): the previous position, zero before the first.
  const shift = (v: Value) =>
    b.concat(
      [b.mul(b.slice(v, 1, 0, 1), zero), b.slice(v, 1, 0, -1, typeof T === 'number' ? T - 1 : `${T}-1`)],
      1,
    );
  const mixes = (v: Value, p: string, names: readonly string[]) => {
    const dx = b.sub(shift(v), v);
    return names.map((n) => b.add(v, b.mul(dx, param(`${p}.time_maa_${n}`))));
  };

  // time mix
  const h = ln(x, 'ln_1');
  const [xk, xv, xr, xg] = mixes(h, 'tmix', ['k', 'v', 'r', 'g']) as [Value, Value, Value, Value];
  const heads = (v: Value) => b.reshape(v, [B, T, nHead, N]);
  const r = heads(lin(xr, 'tmix.receptance'));
  const k = heads(lin(xk, 'tmix.key'));
  const v = heads(lin(xv, 'tmix.value'));
  const gate = lin(xg, 'tmix.gate');
  const g = b.mul(gate, b.sigmoid(gate));
  // A zero state [B, H, N, N] shaped from x (the sequence starts fresh).
  const first = b.reshape(b.slice(r, 1, 0, 1), [B, nHead, N, 1]);
  const state0 = b.mul(
    b.mul(first, zero),
    b.weight(`x051a_zeros_${N}`, { shape: [N], data: new Float32Array(N), storedAs: 'float32' }),
  );
  const wkv = b.wkv5(r, k, v, decayAndBonus.decay, decayAndBonus.bonus, state0);
  const grouped = b.layerNorm(b.reshape(wkv.y, [B, T, nHead, N]), null, null, 64e-5);
  const normed = b.add(
    b.mul(b.reshape(grouped, [B, T, C]), param('tmix.ln_x.weight')),
    param('tmix.ln_x.bias'),
  );
  let out = b.add(x, lin(b.mul(normed, g), 'tmix.output'));

  // channel mix
  const h2 = ln(out, 'ln_2');
  const [ck, cr] = mixes(h2, 'cmix', ['k', 'r']) as [Value, Value];
  const relu = b.relu(lin(ck, 'cmix.key'));
  const kv = lin(b.mul(relu, relu), 'cmix.value');
  out = b.add(out, b.mul(b.sigmoid(lin(cr, 'cmix.receptance')), kv));
  return out;
}
