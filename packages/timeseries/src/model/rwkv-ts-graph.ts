import {
  BadInputError,
  type Graph,
  GraphBuilder,
  type HostTensor,
  hostTensor,
  type Value,
  x051aBlock,
} from '@rwkv-streams/core';
import type { RwkvTsConfig } from './config.js';

/** Names of the graph's input and output. */
export const RWKV_TS_IO = { history: 'history', forecast: 'forecast' } as const;

/** RevIN's epsilon inside the square root, as the reference adds it. */
const REVIN_EPS = 1e-5;

/**
 * RWKV4TS as the reference computes it, for `channels` series channels:
 * `history` [batch, seqLen, channels] -> `forecast` [batch, predLen, channels].
 * Per channel (channels are independent: they become the batch): instance
 * normalization (mean, and std without Bessel's correction plus 1e-5), end padding by
 * repeating the last value `stride` times, patches of `patchSize` every `stride`, a
 * Linear patch embedding, x051a RWKV blocks, a Linear head on the flattened patches,
 * and the normalization undone.
 */
export function buildRwkvTsGraph(
  config: RwkvTsConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  channels: number,
): Graph {
  const { seqLen: L, predLen, patchSize: P, stride: S, patchNum: n, dModel: D, nHead: H } = config;
  const b = new GraphBuilder(`rwkv-ts-${channels}`);
  const get = (name: string): HostTensor => {
    const t = tensors.get(name);
    if (!t) throw new BadInputError(`RWKV-TS weights have no '${name}'`, { field: name });
    return t;
  };
  const param = (name: string): Value => b.weight(name, get(name));
  const history = b.input(RWKV_TS_IO.history, 'float32', ['batch', L, channels]);

  // RevIN over time, per series and channel.
  const mean = b.mul(b.reduceSum(history, [1], true), b.scalar(1 / L)); // [B, 1, M]
  const centered = b.sub(history, mean);
  const variance = b.mul(b.reduceSum(b.mul(centered, centered), [1], true), b.scalar(1 / L));
  const std = b.sqrt(b.add(variance, b.scalar(REVIN_EPS)));
  const normed = b.div(centered, std);

  // Channels become series: [B, M, L] -> [B * M, L]; pad the end with the last value.
  const series = b.reshape(b.transpose(normed, [0, 2, 1]), ['series', L]);
  const last = b.slice(series, 1, L - 1, L);
  const padded = b.concat([series, ...Array.from({ length: S }, () => last)], 1); // [BM, L + S]
  const patches = b.concat(
    Array.from({ length: n }, (_, i) => b.reshape(b.slice(padded, 1, i * S, i * S + P), ['series', 1, P])),
    1,
  ); // [BM, n, P]
  let x = b.add(b.linear(patches, param('in_layer.weight')), param('in_layer.bias')); // [BM, n, D]
  const N = D / H;
  for (let l = 0; l < config.nLayer; l++) {
    const p = `rwkv.${l}`;
    const perHead = (name: string, f: (v: number) => number) => {
      const t = get(`${p}.tmix.${name}`);
      const data = new Float32Array(H * N);
      for (let h = 0; h < H; h++) data.fill(f(t.data[h]!), h * N, (h + 1) * N);
      return b.weight(`${p}.tmix.${name}_per_channel`, hostTensor([H, N], data));
    };
    x = x051aBlock(
      b,
      x,
      (name) => param(`${p}.${name}`),
      {
        decay: perHead('time_decay', (d) => Math.exp(-Math.exp(d))),
        bonus: perHead('time_faaaa', (u) => u),
      },
      H,
    );
  }
  const flat = b.reshape(x, ['series', n * D]);
  const out = b.add(b.linear(flat, param('out_layer.weight')), param('out_layer.bias')); // [BM, predLen]
  const perSeries = b.transpose(b.reshape(out, ['batch', channels, predLen]), [0, 2, 1]); // [B, predLen, M]
  b.output(RWKV_TS_IO.forecast, b.add(b.mul(perSeries, std), mean));
  return b.build();
}
