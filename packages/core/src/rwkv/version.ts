import type { Value } from '../graph/ir.js';
import type { BlockContext } from './block-context.js';
import type { RwkvConfig, RwkvVersion } from './config.js';

/** One recurrent state variable of a layer, per stream. */
export interface StateVarSpec {
  /** Short name, unique within a layer (e.g. 'att_x', 'wkv'). */
  readonly name: string;
  /** Shape per stream (the batch dim is prepended). */
  readonly shape: readonly number[];
  /** Value of a fresh state. */
  readonly init: number;
}

/** Values that flow between layers of one forward pass (RWKV-7's v_first). */
export interface CrossLayer {
  vFirst?: Value;
}

/**
 * One RWKV version: its per-layer state and how one block (time mix + channel mix) is
 * written into a graph. A new version is a new file implementing this.
 */
export interface RwkvVersionDef {
  readonly version: RwkvVersion;
  /** The state variables of one layer. */
  layerState(config: RwkvConfig): readonly StateVarSpec[];
  /**
   * Writes block `ctx.layer`: x [B, T, C] (already the residual stream) and the layer's
   * state values in; the new residual stream and new state values out.
   */
  block(
    ctx: BlockContext,
    x: Value,
    state: Readonly<Record<string, Value>>,
    cross: CrossLayer,
  ): {
    x: Value;
    state: Record<string, Value>;
  };
}
