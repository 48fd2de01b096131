import { MissingTensorError, ShapeMismatchError } from '../errors.js';
import type { GraphBuilder } from '../graph/builder.js';
import type { Dim, Value } from '../graph/ir.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import type { RwkvConfig } from './config.js';

/** Symbolic batch and time dims used by every RWKV graph. */
export const BATCH: Dim = 'batch';
/** The symbolic time dim of sequence graphs (recurrent graphs use a static 1). */
export const TIME: Dim = 'time';

/**
 * Choices a backend may make about how blocks are written, none of which changes what
 * the graph computes.
 */
export interface BlockOptions {
  /**
   * In step graphs (T = 1), write RWKV-7's four LoRAs as three `Linear`s with weights
   * folded on the host (`v7-step-loras.ts`) instead of eight: for backends that pay a fixed
   * cost per node (onnxruntime on the CPU). Default false.
   */
  readonly mergeStepLoras?: boolean;
}

/** What a version's block code needs while it writes one layer into the graph. */
export interface BlockContext {
  readonly b: GraphBuilder;
  readonly config: RwkvConfig;
  /** Time dim of this graph: 1 (recurrent step) or TIME (sequence). */
  readonly time: Dim;
  /** Layer index. */
  readonly layer: number;
  /** How the graph's caller asked blocks to be written (see `BlockOptions`). */
  readonly options: BlockOptions;
  /** A weight of this layer by its official name suffix, e.g. 'att.key.weight'. */
  param(suffix: string): Value;
  /** Whether this layer has a weight (optional tensors such as v7 layer-0 v0). */
  has(suffix: string): boolean;
  /** A weight reshaped on the host (no graph op), e.g. v6 time_maa_w2 to [5, 1, D, C]. */
  paramAs(suffix: string, shape: readonly number[]): Value;
  /**
   * A 2-D weight W stored as x @ W (official LoRA layout [in, out]) as the [out, in]
   * weight of a `Linear`, so backends treat it like every projection (quantization included).
   */
  paramAsLinear(suffix: string): Value;
  /**
   * Weights of this layer with the same number of values stacked on the host into one
   * [suffixes.length, n] weight (no graph op): e.g. RWKV-7's six token-shift mixes, so a
   * step graph mixes all six with one multiply-add.
   */
  paramStacked(suffixes: readonly string[]): Value;
  /**
   * A weight of this layer as the host tensor it is (no graph value): for weights a block
   * derives on the host from several official ones (see `v7-step-loras.ts`).
   */
  tensor(suffix: string): HostTensor;
}

/** Creates the context for one layer over a model's canonical tensors. */
export function blockContext(
  b: GraphBuilder,
  config: RwkvConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  time: Dim,
  layer: number,
  options: BlockOptions = {},
): BlockContext {
  const full = (suffix: string) => `blocks.${layer}.${suffix}`;
  const get = (name: string): HostTensor => {
    const t = tensors.get(name);
    if (!t)
      throw new MissingTensorError(`tensor '${name}' is required by RWKV-${config.version}`, { field: name });
    return t;
  };
  return {
    b,
    config,
    time,
    layer,
    options,
    param: (suffix) => b.weight(full(suffix), get(full(suffix))),
    has: (suffix) => tensors.has(full(suffix)),
    tensor: (suffix) => get(full(suffix)),
    paramAs: (suffix, shape) => {
      const t = get(full(suffix));
      return b.weight(`${full(suffix)}@${shape.join('x')}`, { ...t, shape });
    },
    paramAsLinear: (suffix) => {
      const t = get(full(suffix));
      const [rows, cols] = t.shape as [number, number];
      const data = new Float32Array(rows * cols);
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) data[j * rows + i] = t.data[i * cols + j]!;
      return b.weight(`${full(suffix)}^T`, { shape: [cols, rows], data, storedAs: t.storedAs });
    },
    paramStacked: (suffixes) => {
      const parts = suffixes.map((s) => get(full(s)));
      const n = parts[0]!.data.length;
      for (const [i, t] of parts.entries()) {
        if (t.data.length !== n)
          throw new ShapeMismatchError(
            `cannot stack '${full(suffixes[i]!)}' (${t.data.length} values) with '${full(suffixes[0]!)}' (${n})`,
            { field: full(suffixes[i]!) },
          );
      }
      const data = new Float32Array(parts.length * n);
      parts.forEach((t, i) => {
        data.set(t.data, i * n);
      });
      const name = `blocks.${layer}.stack(${suffixes.join(',')})`;
      return b.weight(name, { shape: [parts.length, n], data, storedAs: parts[0]!.storedAs });
    },
  };
}
