import type { Value } from '../graph/ir.js';
import { BATCH, type BlockContext } from './block-context.js';
import { DEFAULT_LN_X_EPS } from './config.js';
import { groupNormHeads, lerp, reluSquared, silu, tokenShift } from './token-shift.js';
import type { RwkvVersionDef } from './version.js';

/**
 * RWKV-6 (Finch): data-dependent token shift (ddlerp through a rank-D LoRA, five mixes
 * w, k, v, r, g) and data-dependent decay per token and channel; the WKV state update is
 * RWKV-5.2's with a per-step decay.
 */
export const rwkv6: RwkvVersionDef = {
  version: 6,
  layerState: ({ nEmbd: C, nHead: H, headSize: N }) => [
    { name: 'att_x', shape: [C], init: 0 },
    { name: 'wkv', shape: [H, N, N], init: 0 },
    { name: 'ffn_x', shape: [C], init: 0 },
  ],
  block(ctx, x, state) {
    const { b } = ctx;
    const ln1 = b.layerNorm(x, ctx.param('ln1.weight'), ctx.param('ln1.bias'), 1e-5);
    const att = timeMix(ctx, ln1, state);
    const x1 = b.add(x, att.out);
    const ln2 = b.layerNorm(x1, ctx.param('ln2.weight'), ctx.param('ln2.bias'), 1e-5);
    const ffn = channelMix(ctx, ln2, state['ffn_x']!);
    return { x: b.add(x1, ffn.out), state: { ...att.state, ffn_x: ffn.last } };
  },
};

function timeMix(ctx: BlockContext, x: Value, state: Readonly<Record<string, Value>>) {
  const { b, time } = ctx;
  const { nHead: H, headSize: N, nEmbd: C } = ctx.config;
  const { shifted, last } = tokenShift(ctx, x, state['att_x']!);
  const sx = b.sub(shifted, x);
  // LoRA down-projections go through Linear (as [out, in]) so backends may quantize them.
  const w1 = ctx.paramAsLinear('att.time_maa_w1');
  const D = (w1.shape[0] as number) / 5;
  // ddlerp: five data-dependent mixes from one LoRA, ordered w, k, v, r, g.
  const lora = b.tanh(b.linear(lerp(ctx, x, sx, ctx.param('att.time_maa_x')), w1));
  const perMix = b.transpose(b.reshape(lora, [BATCH, time, 5, D]), [2, 0, 1, 3]);
  const mixes = b.matmul(perMix, ctx.paramAs('att.time_maa_w2', [5, 1, D, C]));
  const mix = (i: number, name: string) => {
    const m = b.squeeze(b.slice(mixes, 0, i, i + 1), 0);
    return lerp(ctx, x, sx, b.add(ctx.param(name), m));
  };
  const xw = mix(0, 'att.time_maa_w');
  const xk = mix(1, 'att.time_maa_k');
  const xv = mix(2, 'att.time_maa_v');
  const xr = mix(3, 'att.time_maa_r');
  const xg = mix(4, 'att.time_maa_g');
  const decayLora = b.linear(
    b.tanh(b.linear(xw, ctx.paramAsLinear('att.time_decay_w1'))),
    ctx.paramAsLinear('att.time_decay_w2'),
  );
  const logDecay = b.add(ctx.param('att.time_decay'), decayLora);
  const heads = (v: Value) => b.reshape(v, [BATCH, time, H, N]);
  const w = heads(b.exp(b.neg(b.exp(logDecay))));
  const r = heads(b.linear(xr, ctx.param('att.receptance.weight')));
  const k = heads(b.linear(xk, ctx.param('att.key.weight')));
  const v = heads(b.linear(xv, ctx.param('att.value.weight')));
  const g = silu(ctx, b.linear(xg, ctx.param('att.gate.weight')));
  const wkv = b.wkv5(r, k, v, w, ctx.paramAs('att.time_faaaa', [H, N]), state['wkv']!);
  const y = groupNormHeads(ctx, wkv.y, 'att.ln_x', ctx.config.lnXEpsilon ?? DEFAULT_LN_X_EPS);
  const out = b.linear(b.mul(y, g), ctx.param('att.output.weight'));
  return { out, state: { att_x: last, wkv: wkv.s } };
}

function channelMix(ctx: BlockContext, x: Value, prev: Value) {
  const { b } = ctx;
  const { shifted, last } = tokenShift(ctx, x, prev);
  const sx = b.sub(shifted, x);
  const xk = lerp(ctx, x, sx, ctx.param('ffn.time_maa_k'));
  const xr = lerp(ctx, x, sx, ctx.param('ffn.time_maa_r'));
  const r = b.sigmoid(b.linear(xr, ctx.param('ffn.receptance.weight')));
  const k = reluSquared(ctx, b.linear(xk, ctx.param('ffn.key.weight')));
  return { out: b.mul(r, b.linear(k, ctx.param('ffn.value.weight'))), last };
}
