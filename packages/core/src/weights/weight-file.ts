import type { HostTensor } from '../tensor/host-tensor.js';

/** Formats the core reads weights from. */
export type WeightFormat = 'safetensors' | 'rwkv-cpp' | 'pth';

/**
 * What a weight reader returns: named tensors in the names the file uses, plus the
 * format's own header facts. Readers do no model-specific work; mapping names and
 * values onto a model description is `describeRwkvModel`'s job.
 */
export interface WeightFile {
  /** The format it was read from. */
  readonly format: WeightFormat;
  /** Where it was read from (path, or `<buffer>`). */
  readonly source: string;
  /** Tensors by name, decoded to float32. Insertion order is file order. */
  readonly tensors: ReadonlyMap<string, HostTensor>;
  /** Format header facts: safetensors `__metadata__`, rwkv.cpp header fields, etc. */
  readonly metadata: Readonly<Record<string, string | number>>;
}
