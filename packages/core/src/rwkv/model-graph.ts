import { MissingTensorError } from '../errors.js';
import { GraphBuilder } from '../graph/builder.js';
import type { Dim, Graph, Value } from '../graph/ir.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { BATCH, TIME } from './block-context.js';
import { addRwkvBlocks } from './blocks.js';
import type { RwkvConfig } from './config.js';

export { stateInputName, stateOutputName } from './blocks.js';

/** Which graph to build. */
export interface RwkvGraphOptions {
  /** 'recurrent': one token per call (static T = 1); 'sequence': T tokens per call. */
  readonly mode: 'recurrent' | 'sequence';
  /** Logits for every position, or only the last one (cheaper with big vocabularies). */
  readonly logits: 'last' | 'all';
}

/**
 * The whole language-model graph: tokens [B, T] (int32) and every layer's state in;
 * logits [B, T or 1, V] and every layer's new state out. Weights use official names.
 */
export function buildRwkvGraph(
  config: RwkvConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  options: RwkvGraphOptions,
): Graph {
  const time: Dim = options.mode === 'recurrent' ? 1 : TIME;
  const b = new GraphBuilder(`rwkv${config.version}-${options.mode}-${options.logits}`);
  const weight = (name: string) => {
    const t = tensors.get(name);
    if (!t)
      throw new MissingTensorError(`tensor '${name}' is required by every RWKV language model`, {
        field: name,
      });
    return b.weight(name, t);
  };
  const tokens = b.input('tokens', 'int32', [BATCH, time]);
  let x: Value = b.gather(weight('emb.weight'), tokens);
  x = b.layerNorm(x, weight('blocks.0.ln0.weight'), weight('blocks.0.ln0.bias'), 1e-5);
  x = addRwkvBlocks(b, config, tensors, x, time);
  if (options.logits === 'last' && time !== 1) x = b.slice(x, 1, -1, 2 ** 31 - 1, 1);
  x = b.layerNorm(x, weight('ln_out.weight'), weight('ln_out.bias'), 1e-5);
  b.output('logits', b.linear(x, weight('head.weight')));
  return b.build();
}
