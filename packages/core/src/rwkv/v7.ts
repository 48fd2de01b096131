import { MissingTensorError } from '../errors.js';
import type { Value } from '../graph/ir.js';
import { BATCH, type BlockContext } from './block-context.js';
import { DEFAULT_LN_X_EPS } from './config.js';
import { groupNormHeads, lerp, reluSquared, tokenShift } from './token-shift.js';
import { stepLoras } from './v7-step-loras.js';
import type { CrossLayer, RwkvVersionDef } from './version.js';

/** exp(-0.5): RWKV-7 keeps every decay in (exp(-exp(-0.5)), 1). */
const DECAY_SCALE = Math.exp(-0.5);

/**
 * RWKV-7 (Goose, x070): generalized delta rule with vector-valued in-context learning
 * rate `a`, normalized removal key `kk`, value residual from layer 0 (`v_first`), and
 * a bonus term (r * k * r_k) v outside the state.
 */
export const rwkv7: RwkvVersionDef = {
  version: 7,
  layerState: ({ nEmbd: C, nHead: H, headSize: N }) => [
    { name: 'att_x', shape: [C], init: 0 },
    { name: 'wkv', shape: [H, N, N], init: 0 },
    { name: 'ffn_x', shape: [C], init: 0 },
  ],
  block(ctx, x, state, cross) {
    const { b } = ctx;
    const ln1 = b.layerNorm(x, ctx.param('ln1.weight'), ctx.param('ln1.bias'), 1e-5);
    const att = timeMix(ctx, ln1, state, cross);
    const x1 = b.add(x, att.out);
    const ln2 = b.layerNorm(x1, ctx.param('ln2.weight'), ctx.param('ln2.bias'), 1e-5);
    const ffn = channelMix(ctx, ln2, state['ffn_x']!);
    return { x: b.add(x1, ffn.out), state: { ...att.state, ffn_x: ffn.last } };
  },
};

function timeMix(ctx: BlockContext, x: Value, state: Readonly<Record<string, Value>>, cross: CrossLayer) {
  const { b, time } = ctx;
  const { nHead: H, headSize: N, nEmbd: C } = ctx.config;
  const { shifted, last } = tokenShift(ctx, x, state['att_x']!);
  const xx = b.sub(shifted, x);
  const p =
    time === 1 && ctx.options.mergeStepLoras ? mergedProjections(ctx, x, xx) : projections(ctx, x, xx);
  const { r, w, g, a } = p;
  let { k, v } = p;

  const heads = (t: Value) => b.reshape(t, [BATCH, time, H, N]);
  const kk = l2NormalizeHeads(ctx, heads(b.mul(k, ctx.param('att.k_k'))));
  k = b.add(k, b.mul(k, b.mul(b.sub(a, b.scalar(1)), ctx.param('att.k_a'))));
  if (ctx.layer === 0) cross.vFirst = v;
  else {
    const gate = p.vGate();
    v = b.add(v, b.mul(b.sub(cross.vFirst!, v), gate));
  }
  const vH = heads(v);
  const wkv = b.wkv7(heads(r), heads(w), heads(k), vH, b.neg(kk), b.mul(kk, heads(a)), state['wkv']!);
  // ln_x (a group norm, one group per head) and the bonus (r * k * r_k) v, on [B, T, H, N].
  const normed = groupNormHeads(ctx, wkv.y, 'att.ln_x', ctx.config.lnXEpsilon ?? DEFAULT_LN_X_EPS, true);
  const bonus = b.reduceSum(heads(b.mul(b.mul(r, k), ctx.paramAs('att.r_k', [1, C]))), [-1], true);
  const y = b.reshape(b.add(normed, b.mul(bonus, vH)), [BATCH, time, C]);
  const out = b.linear(b.mul(y, g), ctx.param('att.output.weight'));
  return { out, state: { att_x: last, wkv: wkv.s } };
}

/** What the time mix projects from its input before the WKV. */
interface Projections {
  readonly r: Value;
  /** The decay. */
  readonly w: Value;
  readonly k: Value;
  readonly v: Value;
  readonly a: Value;
  readonly g: Value;
  /** The value-residual gate (layers after the first), written where it is asked for. */
  vGate(): Value;
}

/** Every LoRA its own two `Linear`s over its own token-shift mix (the official form). */
function projections(ctx: BlockContext, x: Value, xx: Value): Projections {
  const { b } = ctx;
  const [xr, xw, xk, xv, xa, xg] = tokenMixes(ctx, x, xx, MIXES);
  // LoRAs go through Linear (as [out, in]) so backends may quantize them like projections:
  // int4 decode of RWKV-7 12 x 768 measured 76-95 tok/s against 63-84 as fp32 MatMul,
  // with the demo LM's int4 bits per byte unchanged (1.1149 vs 1.1151 on 16 KiB).
  const loRa = (input: Value, first: string, second: string, inner: (v: Value) => Value) =>
    b.linear(inner(b.linear(input, ctx.paramAsLinear(first))), ctx.paramAsLinear(second));
  const identity = (v: Value) => v;
  const r = b.linear(xr, ctx.param('att.receptance.weight'));
  const wRaw = b.add(
    ctx.param('att.w0'),
    loRa(xw, 'att.w1', 'att.w2', (v) => b.tanh(v)),
  );
  const w = decay(ctx, b.sigmoid(wRaw));
  const k = b.linear(xk, ctx.param('att.key.weight'));
  const v = b.linear(xv, ctx.param('att.value.weight'));
  const a = b.sigmoid(b.add(ctx.param('att.a0'), loRa(xa, 'att.a1', 'att.a2', identity)));
  const g = loRa(xg, 'att.g1', 'att.g2', (t) => b.sigmoid(t));
  const vGate = () => b.sigmoid(b.add(ctx.param('att.v0'), loRa(xv, 'att.v1', 'att.v2', identity)));
  return { r, w, k, v, a, g, vGate };
}

/** A step's LoRAs as three `Linear`s (`v7-step-loras.ts`); r, k, v mixed as before. */
function mergedProjections(ctx: BlockContext, x: Value, xx: Value): Projections {
  const { b } = ctx;
  const [xr, xk, xv] = tokenMixes(ctx, x, xx, ['att.x_r', 'att.x_k', 'att.x_v'] as const);
  const loras = stepLoras(ctx, x, xx);
  const gate = loras.vGate;
  return {
    r: b.linear(xr, ctx.param('att.receptance.weight')),
    w: decay(ctx, loras.wSigmoid),
    k: b.linear(xk, ctx.param('att.key.weight')),
    v: b.linear(xv, ctx.param('att.value.weight')),
    a: loras.a,
    g: loras.g,
    vGate: () => {
      if (!gate)
        throw new MissingTensorError(`layer ${ctx.layer} has no value-residual LoRA`, {
          field: `blocks.${ctx.layer}.att.v1`,
        });
      return gate;
    },
  };
}

/** exp(-exp(-0.5) * sigmoid(...)): the decay from its sigmoid. */
function decay(ctx: BlockContext, sigmoid: Value): Value {
  return ctx.b.exp(ctx.b.mul(ctx.b.scalar(-DECAY_SCALE), sigmoid));
}

/** The six token-shift mixes of the time mix, in the order their inputs are used. */
const MIXES = ['att.x_r', 'att.x_w', 'att.x_k', 'att.x_v', 'att.x_a', 'att.x_g'] as const;

/**
 * x + (shifted - x) * mix for each mix. In a step graph (T = 1) all of them at once: the
 * mixes stacked on the host into [n, C], seen as [n, 1, 1, C], broadcast against [B, 1, C]
 * give [n, B, 1, C] (one Mul and one Add instead of n of each), sliced back into
 * [B, 1, C] per mix. The mix axis leads so that each slice is one contiguous block at any
 * batch size: a backend takes it as a view of the result (no copy), and the CUDA backend
 * can store the whole result in half precision for its GEMMs (at 64 streams the [B, n, C]
 * order cost six strided copies and seven casts a layer).
 */
function tokenMixes<const M extends readonly string[]>(
  ctx: BlockContext,
  x: Value,
  xx: Value,
  mixes: M,
): { [K in keyof M]: Value } {
  const { b } = ctx;
  // one Value per mix name, in order (map keeps the tuple's length; TypeScript cannot see it)
  type Mixed = { [K in keyof M]: Value };
  if (ctx.time !== 1) return mixes.map((m) => lerp(ctx, x, xx, ctx.param(m))) as unknown as Mixed;
  const C = ctx.config.nEmbd;
  const all = b.add(x, b.mul(xx, b.reshape(ctx.paramStacked(mixes), [mixes.length, 1, 1, C])));
  return mixes.map((_, i) => b.reshape(b.slice(all, 0, i, i + 1), [BATCH, 1, C])) as unknown as Mixed;
}

/** L2-normalizes each head's vector (PyTorch F.normalize, eps 1e-12) of [B, T, H, N]. */
function l2NormalizeHeads(ctx: BlockContext, x: Value): Value {
  const { b } = ctx;
  const norm = b.sqrt(b.reduceSum(b.mul(x, x), [-1], true));
  return b.div(x, b.max(norm, b.scalar(1e-12)));
}

function channelMix(ctx: BlockContext, x: Value, prev: Value) {
  const { b } = ctx;
  const { shifted, last } = tokenShift(ctx, x, prev);
  const k = reluSquared(
    ctx,
    b.linear(lerp(ctx, x, b.sub(shifted, x), ctx.param('ffn.x_k')), ctx.param('ffn.key.weight')),
  );
  return { out: b.linear(k, ctx.param('ffn.value.weight')), last };
}
