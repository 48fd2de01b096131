import type { GraphBuilder } from '../graph/builder.js';
import type { Dim, Value } from '../graph/ir.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { BATCH, type BlockOptions, blockContext } from './block-context.js';
import type { RwkvConfig } from './config.js';
import type { CrossLayer } from './version.js';
import { versionDef } from './versions.js';

/** Name of a layer's state variable as a graph input. */
export const stateInputName = (layer: number, name: string): string => `state.${layer}.${name}`;
/** Name of a layer's state variable as a graph output. */
export const stateOutputName = (layer: number, name: string): string => `state_out.${layer}.${name}`;

/**
 * Writes the stack of RWKV blocks (layers 0..nLayer-1, official tensor names
 * `blocks.<i>.*`) over a residual stream `x` [batch, time, C] whatever produced it: a
 * token embedding, a convolutional audio stem or a patch embedding. Every layer's state
 * becomes a graph input `state.<i>.<name>` and output `state_out.<i>.<name>`, so the
 * caller carries state between calls (chunked streaming) exactly as language models do.
 */
export function addRwkvBlocks(
  b: GraphBuilder,
  config: RwkvConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  x: Value,
  time: Dim,
  options: BlockOptions = {},
): Value {
  const def = versionDef(config.version);
  const cross: CrossLayer = {};
  let h = x;
  for (let layer = 0; layer < config.nLayer; layer++) {
    const ctx = blockContext(b, config, tensors, time, layer, options);
    const state: Record<string, Value> = {};
    for (const s of def.layerState(config))
      state[s.name] = b.input(stateInputName(layer, s.name), 'float32', [BATCH, ...s.shape]);
    const res = def.block(ctx, h, state, cross);
    h = res.x;
    for (const s of def.layerState(config)) b.output(stateOutputName(layer, s.name), res.state[s.name]!);
  }
  return h;
}
