import type { Dim, GraphBuilder, HostTensor, Value } from '@rwkv-streams/core';
import { qShiftMultihead } from './q-shift-multihead.js';
import type { Vrwkv6Config } from './vrwkv6-config.js';

/** What a VRWKV6 block needs while the graph is written. */
export interface Vrwkv6Context {
  readonly b: GraphBuilder;
  readonly config: Vrwkv6Config;
  /** Patch grid of this graph's input: [rows, columns]. */
  readonly grid: readonly [number, number];
  /** A weight by its official name (without a `backbone.` prefix). */
  readonly param: (name: string) => Value;
  /** A weight by name, its data viewed with another shape (no graph op). */
  readonly paramAs: (name: string, shape: readonly number[]) => Value;
  /** A LoRA matrix stored for x @ W ([in, out]) as the [out, in] weight of a Linear. */
  readonly paramAsLinear: (name: string) => Value;
}

/** Host-side views of the weights a VRWKV6 graph needs (see `Vrwkv6Context`). */
export function vrwkv6Params(
  b: GraphBuilder,
  get: (name: string) => HostTensor,
): Pick<Vrwkv6Context, 'param' | 'paramAs' | 'paramAsLinear'> {
  return {
    param: (name) => b.weight(name, get(name)),
    paramAs: (name, shape) => b.weight(`${name}@${shape.join('x')}`, { ...get(name), shape }),
    paramAsLinear: (name) => {
      const t = get(name);
      const [rows, cols] = t.shape as [number, number];
      const data = new Float32Array(rows * cols);
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) data[j * rows + i] = t.data[i * cols + j]!;
      return b.weight(`${name}^T`, { shape: [cols, rows], data, storedAs: t.storedAs });
    },
  };
}

const LN_EPS = 1e-5; // nn.LayerNorm's default and the ln_x GroupNorm's eps, as the official blocks use

function norm(ctx: Vrwkv6Context, x: Value, prefix: string): Value {
  return ctx.b.layerNorm(x, ctx.param(`${prefix}.weight`), ctx.param(`${prefix}.bias`), LN_EPS);
}

/**
 * The Q-shifted tokens of x [B, T, C]: the patches shifted per head over the grid; a
 * class token (the last token, with_cls_token) stays as it is.
 */
function shifted(ctx: Vrwkv6Context, x: Value): Value {
  const { b, config, grid } = ctx;
  const [rows, cols] = grid;
  const shift = (v: Value) => qShiftMultihead(b, v, rows, cols, config.numHeads, config.shiftPixel);
  if (!config.withClsToken) return shift(x);
  const n = rows * cols;
  return b.concat([shift(b.slice(x, 1, 0, n)), b.slice(x, 1, n, n + 1)], 1);
}

/** x + delta * mix. */
function lerp(b: GraphBuilder, x: Value, delta: Value, mix: Value): Value {
  return b.add(x, b.mul(delta, mix));
}

/**
 * VRWKV_SpatialMix_V6: ddlerp token mixing (Q-shift, then five data-dependent mixes
 * w, k, v, r, g from one rank-32 LoRA), the data-dependent decay (time_decay + a rank-64
 * LoRA, as the factor exp(-exp(.))), the bidirectional WKV-6 with the bonus time_faaaa,
 * optional key norm, group norm per head (ln_x, eps 1e-5), SiLU gate, output.
 */
export function spatialMix6(ctx: Vrwkv6Context, x: Value, p: string): Value {
  const { b, config } = ctx;
  const C = config.embedDims;
  const H = config.numHeads;
  const N = C / H;
  const D = config.mixLoraDim;
  const T = x.shape[1] as Dim;
  const sx = b.sub(shifted(ctx, x), x);
  const lora = b.tanh(
    b.linear(lerp(b, x, sx, ctx.param(`${p}.time_maa_x`)), ctx.paramAsLinear(`${p}.time_maa_w1`)),
  );
  // [B, T, 5D] -> [5, B, T, D] @ [5, 1, D, C] -> [5, B, T, C]: mixes ordered w, k, v, r, g.
  const perMix = b.transpose(b.reshape(lora, ['batch', T, 5, D]), [2, 0, 1, 3]);
  const mixes = b.matmul(perMix, ctx.paramAs(`${p}.time_maa_w2`, [5, 1, D, C]));
  const mix = (i: number, name: string) =>
    lerp(b, x, sx, b.add(ctx.param(`${p}.${name}`), b.squeeze(b.slice(mixes, 0, i, i + 1), 0)));
  const xw = mix(0, 'time_maa_w');
  const xk = mix(1, 'time_maa_k');
  const xv = mix(2, 'time_maa_v');
  const xr = mix(3, 'time_maa_r');
  const xg = mix(4, 'time_maa_g');
  const lin = (v: Value, name: string) => b.linear(v, ctx.param(`${p}.${name}.weight`));
  const heads = (v: Value) => b.reshape(v, ['batch', T, H, N]);
  const decayLora = b.linear(
    b.tanh(b.linear(xw, ctx.paramAsLinear(`${p}.time_decay_w1`))),
    ctx.paramAsLinear(`${p}.time_decay_w2`),
  );
  const w = b.exp(b.neg(b.exp(b.add(ctx.param(`${p}.time_decay`), decayLora))));
  const gate = lin(xg, 'gate');
  const g = b.mul(gate, b.sigmoid(gate)); // SiLU
  const wkv = b.biWkv6(
    heads(lin(xr, 'receptance')),
    heads(lin(xk, 'key')),
    heads(lin(xv, 'value')),
    heads(w),
    ctx.paramAs(`${p}.time_faaaa`, [H, N]),
  );
  let y = b.reshape(wkv, ['batch', T, C]);
  if (config.keyNorm) y = norm(ctx, y, `${p}.key_norm`);
  // ln_x: GroupNorm(H groups) over each token's C channels = a LayerNorm per head, then affine.
  const normed = b.reshape(b.layerNorm(heads(y), null, null, LN_EPS), ['batch', T, C]);
  y = b.add(b.mul(normed, ctx.param(`${p}.ln_x.weight`)), ctx.param(`${p}.ln_x.bias`));
  return lin(b.mul(y, g), 'output');
}

/** VRWKV_ChannelMix of vrwkv6.py: per-head Q-shift mixes, squared-ReLU key, sigmoid gate. */
export function channelMix6(ctx: Vrwkv6Context, x: Value, p: string): Value {
  const { b, config } = ctx;
  const xx = shifted(ctx, x);
  const lin = (v: Value, name: string) => b.linear(v, ctx.param(`${p}.${name}.weight`));
  // x * m + xx * (1 - m), written as xx + (x - xx) * m
  const pick = (name: string) => lerp(b, xx, b.sub(x, xx), ctx.param(`${p}.${name}`));
  const r = b.relu(lin(pick('spatial_mix_k'), 'key'));
  let k = b.mul(r, r);
  if (config.keyNorm) k = norm(ctx, k, `${p}.key_norm`);
  return b.mul(b.sigmoid(lin(pick('spatial_mix_r'), 'receptance')), lin(k, 'value'));
}

/** One VRWKV6 Block: (ln0 at layer 0), att and ffn branches, pre- or post-norm, layer scale. */
export function vrwkv6Block(ctx: Vrwkv6Context, x: Value, layer: number): Value {
  const { b, config } = ctx;
  const p = `layers.${layer}`;
  let h = layer === 0 ? norm(ctx, x, `${p}.ln0`) : x;
  const scale = (v: Value, g: string) => (config.layerScale ? b.mul(v, ctx.param(`${p}.${g}`)) : v);
  if (config.postNorm) {
    h = b.add(h, scale(norm(ctx, spatialMix6(ctx, h, `${p}.att`), `${p}.ln1`), 'gamma1'));
    h = b.add(h, scale(norm(ctx, channelMix6(ctx, h, `${p}.ffn`), `${p}.ln2`), 'gamma2'));
  } else {
    h = b.add(h, scale(spatialMix6(ctx, norm(ctx, h, `${p}.ln1`), `${p}.att`), 'gamma1'));
    h = b.add(h, scale(channelMix6(ctx, norm(ctx, h, `${p}.ln2`), `${p}.ffn`), 'gamma2'));
  }
  return h;
}
