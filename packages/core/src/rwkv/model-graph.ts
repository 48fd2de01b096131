import { MissingTensorError } from '../errors.js';
import { GraphBuilder } from '../graph/builder.js';
import type { Dim, Graph, Value } from '../graph/ir.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { BATCH, blockContext, TIME } from './block-context.js';
import type { RwkvConfig } from './config.js';
import type { CrossLayer } from './version.js';
import { versionDef } from './versions.js';

/** Which graph to build. */
export interface RwkvGraphOptions {
  /** 'recurrent': one token per call (static T = 1); 'sequence': T tokens per call. */
  readonly mode: 'recurrent' | 'sequence';
  /** Logits for every position, or only the last one (cheaper with big vocabularies). */
  readonly logits: 'last' | 'all';
}

/** Name of a layer's state variable as a graph input. */
export const stateInputName = (layer: number, name: string): string => `state.${layer}.${name}`;
/** Name of a layer's state variable as a graph output. */
export const stateOutputName = (layer: number, name: string): string => `state_out.${layer}.${name}`;

/**
 * The whole language-model graph: tokens [B, T] (int32) and every layer's state in;
 * logits [B, T or 1, V] and every layer's new state out. Weights use official names.
 */
export function buildRwkvGraph(
  config: RwkvConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  options: RwkvGraphOptions,
): Graph {
  const def = versionDef(config.version);
  const time: Dim = options.mode === 'recurrent' ? 1 : TIME;
  const b = new GraphBuilder(`rwkv${config.version}-${options.mode}-${options.logits}`);
  const tokens = b.input('tokens', 'int32', [BATCH, time]);
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new MissingTensorError(`tensor '${name}' is required by every RWKV model`, { field: name });
    return b.weight(name, t);
  };
  const first = blockContext(b, config, tensors, time, 0);
  let x: Value = b.gather(get('emb.weight'), tokens);
  x = b.layerNorm(x, first.param('ln0.weight'), first.param('ln0.bias'), 1e-5);

  const cross: CrossLayer = {};
  for (let layer = 0; layer < config.nLayer; layer++) {
    const ctx = blockContext(b, config, tensors, time, layer);
    const state: Record<string, Value> = {};
    for (const s of def.layerState(config))
      state[s.name] = b.input(stateInputName(layer, s.name), 'float32', [BATCH, ...s.shape]);
    const res = def.block(ctx, x, state, cross);
    x = res.x;
    for (const s of def.layerState(config)) b.output(stateOutputName(layer, s.name), res.state[s.name]!);
  }

  if (options.logits === 'last' && time !== 1) x = b.slice(x, 1, -1, 2 ** 31 - 1, 1);
  x = b.layerNorm(x, get('ln_out.weight'), get('ln_out.bias'), 1e-5);
  b.output('logits', b.linear(x, get('head.weight')));
  return b.build();
}
