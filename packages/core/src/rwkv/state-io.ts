import type { Carry, ZerosValue } from '../backends/backend.js';
import { stateSlots } from '../state/rwkv-state.js';
import { stateInputName, stateOutputName } from './blocks.js';
import type { RwkvConfig } from './config.js';

/**
 * Which state output of a model's graphs feeds which state input: the `carry` of a session
 * (`CompiledGraph.openSession`, `hostSession`) that steps a model's graph token by token.
 */
export function stateCarry(config: RwkvConfig): Carry {
  return Object.fromEntries(
    stateSlots(config).map((s) => [
      stateOutputName(s.layer, s.spec.name),
      stateInputName(s.layer, s.spec.name),
    ]),
  );
}

/** The zero state of `batch` fresh streams as initial values of a session, keyed by input name. */
export function zeroStateValues(config: RwkvConfig, batch: number): Record<string, ZerosValue> {
  return Object.fromEntries(
    stateSlots(config).map((s) => [
      stateInputName(s.layer, s.spec.name),
      { dtype: 'float32', dims: [batch, ...s.spec.shape], zeros: true } as const,
    ]),
  );
}
