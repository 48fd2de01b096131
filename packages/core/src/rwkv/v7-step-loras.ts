import type { Value } from '../graph/ir.js';
import { type HostTensor, hostTensor } from '../tensor/host-tensor.js';
import { sharedFloat32 } from '../tensor/shared-floats.js';
import type { BlockContext } from './block-context.js';

/** The LoRA outputs of one RWKV-7 time-mix step, before their biases' consumers. */
export interface StepLoras {
  /** sigmoid(w0 + w2 tanh(w1 xw)): the decay's pre-activation through its sigmoid. */
  readonly wSigmoid: Value;
  /** sigmoid(a0 + a2 a1 xa): the in-context learning rate. */
  readonly a: Value;
  /** sigmoid(v0 + v2 v1 xv): the value-residual gate (layers after the first only). */
  readonly vGate: Value | undefined;
  /** g2 sigmoid(g1 xg): the output gate. */
  readonly g: Value;
}

/**
 * The four LoRAs of an RWKV-7 step (T = 1) as three `Linear`s instead of eight.
 *
 * Each LoRA's first product reads its own token-shift mix x + dx * mu, and
 * W1 (x + dx * mu) = [W1, W1 diag(mu)] [x; dx]: so all four first products are one product
 * of the concatenated [x; dx] with the four weights stacked (folded with their mixes on
 * the host). The decay, learning-rate and value-gate LoRAs all end in sigmoid(bias + W2 h):
 * their second products are one product with a block-diagonal weight, one bias add and one
 * sigmoid. The output gate's second product stays its own.
 *
 * Why: on the CPU, onnxruntime pays a fixed cost per node (a quantized product ~5-10 us
 * whatever its size), and these LoRAs are 2% of a 0.1B model's weights but were 96 of its
 * 169 quantized products a token (now 36). The cost: the folded weights are held beside the
 * official ones, which the sequence graph keeps reading (0.1B int4: 3.4 MB more, 1%), and
 * the block-diagonal product multiplies zeros. Measured: RWKV-7 12 x 768 int4, 2 threads,
 * the step graph alone in fresh processes alternating, 6.07 against 6.27 ms a token (faster
 * in 7 of 8 pairs); the speech model's one-layer predictor (fp32, 2 LoRA products fewer)
 * did not change (109.6 us either way), so it is not asked for there.
 */
export function stepLoras(ctx: BlockContext, x: Value, dx: Value): StepLoras {
  const { b, layer } = ctx;
  const C = ctx.config.nEmbd;
  const withV = layer > 0 && ctx.has('att.v1');
  const gated = withV ? (['w', 'a', 'v'] as const) : (['w', 'a'] as const);
  const firsts = [...gated, 'g' as const];
  const mixOf = { w: 'att.x_w', a: 'att.x_a', v: 'att.x_v', g: 'att.x_g' } as const;
  const dims = firsts.map((l) => ctx.tensor(`att.${l}1`).shape[1]!);
  const total = dims.reduce((s, d) => s + d, 0);

  // First products: rows [W1^T | W1^T diag(mu)] per LoRA, over the 2C inputs [x; dx].
  // in shared memory, as the loaders' weights: a model lowered in a worker takes them as they are
  const first = sharedFloat32(total * 2 * C);
  let row = 0;
  firsts.forEach((l, i) => {
    const w1 = ctx.tensor(`att.${l}1`); // official [C, D]: x @ w1
    const mu = ctx.tensor(mixOf[l]).data;
    const D = dims[i]!;
    for (let d = 0; d < D; d++, row++)
      for (let c = 0; c < C; c++) {
        const v = w1.data[c * D + d]!;
        first[row * 2 * C + c] = v;
        first[row * 2 * C + C + c] = v * mu[c]!;
      }
  });
  const h = b.linear(
    b.concat([x, dx], -1),
    b.weight(`blocks.${layer}.att.lora_step_first`, weightLike(ctx.tensor('att.w1'), [total, 2 * C], first)),
  );
  const parts = splitLast(ctx, h, dims);

  // Second products of the gated LoRAs: block-diagonal [C * n, sum D], then + bias, sigmoid.
  const gDims = dims.slice(0, gated.length);
  const inner = gDims.reduce((s, d) => s + d, 0);
  const second = sharedFloat32(gated.length * C * inner);
  const bias = new Float32Array(gated.length * C);
  let col = 0;
  gated.forEach((l, i) => {
    const w2 = ctx.tensor(`att.${l}2`); // official [D, C]
    const D = gDims[i]!;
    for (let c = 0; c < C; c++)
      for (let d = 0; d < D; d++) second[(i * C + c) * inner + col + d] = w2.data[d * C + c]!;
    bias.set(ctx.tensor(`att.${l}0`).data.subarray(0, C), i * C);
    col += D;
  });
  const u = b.concat([b.tanh(parts[0]!), ...parts.slice(1, gated.length)], -1);
  const gatedOut = b.sigmoid(
    b.add(
      b.linear(
        u,
        b.weight(
          `blocks.${layer}.att.lora_step_second`,
          weightLike(ctx.tensor('att.w2'), [gated.length * C, inner], second),
        ),
      ),
      b.weight(`blocks.${layer}.att.lora_step_bias`, hostTensor([gated.length * C], bias)),
    ),
  );
  const outs = splitLast(
    ctx,
    gatedOut,
    gated.map(() => C),
  );
  const g = b.linear(b.sigmoid(parts[gated.length]!), ctx.paramAsLinear('att.g2'));
  return { wSigmoid: outs[0]!, a: outs[1]!, vGate: withV ? outs[2] : undefined, g };
}

function weightLike(like: HostTensor, shape: readonly number[], data: Float32Array): HostTensor {
  return hostTensor(shape, data, like.storedAs);
}

/** Slices of the last axis of width `sizes[i]`, in order. */
function splitLast(ctx: BlockContext, x: Value, sizes: readonly number[]): Value[] {
  const out: Value[] = [];
  let at = 0;
  for (const s of sizes) {
    out.push(ctx.b.slice(x, -1, at, at + s));
    at += s;
  }
  return out;
}
