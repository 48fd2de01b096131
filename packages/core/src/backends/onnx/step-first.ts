import { BadInputError } from '../../errors.js';
import type { CompiledGraph, TensorValue } from '../backend.js';
import { SEQUENCE_PREFIX } from './lower.js';
import type { OnnxCompiledGraph } from './onnx-session.js';

/**
 * A model lowered by `lowerToOnnxStepFirst`, run as one graph with the sequence graph's
 * inputs and outputs. A call with one token per stream (`timeInput` [B, 1]) feeds the step
 * and binds the sequence's copies of tokens and state to empty tokens [B, 0] and the same
 * state (its branch is skipped, nothing read); a longer call feeds the sequence and gives
 * the step zero streams (its nodes run on empty tensors, about 0.8 ms on RWKV-7 12 x 768;
 * every version's step graph runs on zero streams, `step-first.test.ts`). Either way only
 * the outputs of the graph that ran are copied to the host.
 *
 * `shared`: the inputs both graphs read (tokens and state), of which the sequence has
 * `sequence/` copies; `outputs`: the output names (the same in both graphs).
 */
export function stepFirstGraph(
  graph: OnnxCompiledGraph,
  timeInput: string,
  shared: readonly string[],
  outputs: readonly string[],
): CompiledGraph {
  const copy = (name: string) => `${SEQUENCE_PREFIX}${name}`;
  const sequenceOutputs = outputs.map(copy);
  return {
    ...(graph.modelBytes !== undefined ? { modelBytes: graph.modelBytes } : {}),
    async run(inputs) {
      const tokens = inputs[timeInput];
      const [batch, time] = tokens?.dims ?? [];
      if (!tokens || batch === undefined || time === undefined || time < 1)
        throw new BadInputError(
          `input '${timeInput}' must be [batch, time] with time >= 1, got ${tokens ? `[${tokens.dims.join(', ')}]` : 'nothing'}`,
          { field: timeInput },
        );
      const feeds: Record<string, TensorValue> = { ...inputs };
      const decode = time === 1;
      for (const name of shared) {
        const value = inputs[name];
        if (!value) continue;
        feeds[copy(name)] = value;
        if (!decode)
          feeds[name] = { ...value, dims: [0, ...value.dims.slice(1)], data: emptyLike(value.data) };
      }
      if (decode) {
        feeds[copy(timeInput)] = { dtype: 'int32', dims: [batch, 0], data: new Int32Array(0) };
        return graph.run(feeds, outputs);
      }
      feeds[timeInput] = { dtype: 'int32', dims: [0, 1], data: new Int32Array(0) };
      const out = await graph.run(feeds, sequenceOutputs);
      return Object.fromEntries(outputs.map((name, i) => [name, out[sequenceOutputs[i]!]!]));
    },
    dispose: () => graph.dispose(),
  };
}

function emptyLike(data: Float32Array | Int32Array): Float32Array | Int32Array {
  return data instanceof Int32Array ? new Int32Array(0) : new Float32Array(0);
}
