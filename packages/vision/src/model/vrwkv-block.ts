import type { GraphBuilder, HostTensor, Value } from '@rwkv-streams/core';
import type { VrwkvConfig } from './config.js';
import { qShift } from './q-shift.js';

/** What a block needs while the graph is written. */
export interface VrwkvContext {
  readonly b: GraphBuilder;
  readonly config: VrwkvConfig;
  /** Patch grid of this graph's input: [rows, columns]. */
  readonly grid: readonly [number, number];
  /** A weight by its official name (without a `backbone.` prefix). */
  readonly param: (name: string) => Value;
  readonly tensors: ReadonlyMap<string, HostTensor>;
}

const LN_EPS = 1e-5; // nn.LayerNorm's default, as the official blocks use

function norm(ctx: VrwkvContext, x: Value, prefix: string): Value {
  return ctx.b.layerNorm(x, ctx.param(`${prefix}.weight`), ctx.param(`${prefix}.bias`), LN_EPS);
}

/** x * mix + shifted * (1 - mix), written as shifted + (x - shifted) * mix. */
function mix(ctx: VrwkvContext, x: Value, shifted: Value, name: string): Value {
  const { b } = ctx;
  return b.add(shifted, b.mul(b.sub(x, shifted), ctx.param(name)));
}

function shifted(ctx: VrwkvContext, x: Value): Value {
  const { config } = ctx;
  if (config.shiftPixel <= 0) return x;
  return qShift(ctx.b, x, ctx.grid[0], ctx.grid[1], config.channelGamma, config.shiftPixel);
}

/** VRWKV_SpatialMix: Q-Shift mixes, k/v/r projections, the bidirectional WKV, gate, output. */
export function spatialMix(ctx: VrwkvContext, x: Value, p: string): Value {
  const { b, config } = ctx;
  const xx = shifted(ctx, x);
  const lin = (v: Value, name: string) => b.linear(v, ctx.param(`${p}.${name}.weight`));
  const pick = (name: string) => (config.shiftPixel > 0 ? mix(ctx, x, xx, `${p}.${name}`) : x);
  const k = lin(pick('spatial_mix_k'), 'key');
  const v = lin(pick('spatial_mix_v'), 'value');
  const sr = b.sigmoid(lin(pick('spatial_mix_r'), 'receptance'));
  let y = b.biWkv4(k, v, ctx.param(`${p}.spatial_decay`), ctx.param(`${p}.spatial_first`));
  if (config.keyNorm) y = norm(ctx, y, `${p}.key_norm`);
  return lin(b.mul(sr, y), 'output');
}

/** VRWKV_ChannelMix: Q-Shift mixes, squared-ReLU key, value, sigmoid receptance gate. */
export function channelMix(ctx: VrwkvContext, x: Value, p: string): Value {
  const { b, config } = ctx;
  const xx = shifted(ctx, x);
  const lin = (v: Value, name: string) => b.linear(v, ctx.param(`${p}.${name}.weight`));
  const pick = (name: string) => (config.shiftPixel > 0 ? mix(ctx, x, xx, `${p}.${name}`) : x);
  const r = b.relu(lin(pick('spatial_mix_k'), 'key'));
  let k = b.mul(r, r);
  if (config.keyNorm) k = norm(ctx, k, `${p}.key_norm`);
  return b.mul(b.sigmoid(lin(pick('spatial_mix_r'), 'receptance')), lin(k, 'value'));
}

/** One Block: (ln0 at layer 0), then att and ffn branches, pre- or post-norm, layer scale. */
export function vrwkvBlock(ctx: VrwkvContext, x: Value, layer: number): Value {
  const { b, config } = ctx;
  const p = `layers.${layer}`;
  let h = layer === 0 ? norm(ctx, x, `${p}.ln0`) : x;
  const scale = (v: Value, g: string) => (config.layerScale ? b.mul(v, ctx.param(`${p}.${g}`)) : v);
  if (config.postNorm) {
    h = b.add(h, scale(norm(ctx, spatialMix(ctx, h, `${p}.att`), `${p}.ln1`), 'gamma1'));
    h = b.add(h, scale(norm(ctx, channelMix(ctx, h, `${p}.ffn`), `${p}.ln2`), 'gamma2'));
  } else {
    h = b.add(h, scale(spatialMix(ctx, norm(ctx, h, `${p}.ln1`), `${p}.att`), 'gamma1'));
    h = b.add(h, scale(channelMix(ctx, norm(ctx, h, `${p}.ln2`), `${p}.ffn`), 'gamma2'));
  }
  return h;
}
