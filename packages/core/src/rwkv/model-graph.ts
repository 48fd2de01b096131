import { MissingTensorError } from '../errors.js';
import { GraphBuilder } from '../graph/builder.js';
import type { Dim, Graph, Value } from '../graph/ir.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { BATCH, type BlockOptions, TIME } from './block-context.js';
import { addRwkvBlocks } from './blocks.js';
import type { RwkvConfig } from './config.js';

export { stateInputName, stateOutputName } from './blocks.js';

/** Which graph to build. */
export interface RwkvGraphOptions {
  /**
   * 'recurrent': one token per call (static T = 1), logits [B, 1, V]. 'sequence': T tokens
   * per call; the int32 [1] input `logits_from` says from which position on logits are
   * computed (0: all of them; T - 1: the last, which spares the head's work for the rest).
   */
  readonly mode: 'recurrent' | 'sequence';
  /** How blocks are written (a backend's `blockOptions`); the same computation either way. */
  readonly blocks?: BlockOptions;
}

/** Name of the sequence graph's input that picks the first position with logits. */
export const LOGITS_FROM = 'logits_from';

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
  const b = new GraphBuilder(`rwkv${config.version}-${options.mode}`);
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
  x = addRwkvBlocks(b, config, tensors, x, time, options.blocks);
  if (time !== 1) x = b.sliceFrom(x, 1, b.input(LOGITS_FROM, 'int32', [1]), 'positions');
  x = b.layerNorm(x, weight('ln_out.weight'), weight('ln_out.bias'), 1e-5);
  b.output('logits', b.linear(x, weight('head.weight')));
  return b.build();
}
