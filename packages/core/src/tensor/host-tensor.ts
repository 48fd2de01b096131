import { ShapeMismatchError } from '../errors.js';

/** Element types a weight file may store; in memory, weights are decoded to float32. */
export type StoredDType =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'q5_1'
  | 'q5_0'
  | 'q4_0'
  | 'q4_1'
  | 'q8_0';

/**
 * A dense float32 tensor on the host, row-major (last dimension fastest), as every
 * backend receives weights. `storedAs` records the precision the file held, so a
 * loader can say what was dequantized.
 */
export interface HostTensor {
  /** Dimensions, outermost first (PyTorch order). */
  readonly shape: readonly number[];
  /** Row-major values; length is the product of `shape`. */
  readonly data: Float32Array;
  /** Element type in the source file. */
  readonly storedAs: StoredDType;
}

/** Number of elements of a shape (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Builds a HostTensor, checking that `data` has exactly `numel(shape)` elements. */
export function hostTensor(
  shape: readonly number[],
  data: Float32Array,
  storedAs: StoredDType = 'float32',
): HostTensor {
  if (data.length !== numel(shape)) {
    throw new ShapeMismatchError(
      `data has ${data.length} elements, shape [${shape.join(', ')}] needs ${numel(shape)}`,
      {},
    );
  }
  return { shape: [...shape], data, storedAs };
}
