import type { HostTensor } from '../tensor/host-tensor.js';

/**
 * The graph IR: what a model is, independent of who runs it. Models are written once
 * against `GraphBuilder`; a backend lowers the IR to what it executes (ONNX for
 * onnxruntime, fused kernels for CUDA).
 */

/** Element types of graph values. */
export type DType = 'float32' | 'float16' | 'int32';

/** A dimension: a fixed size, or a symbolic one bound at run time ('batch', 'time'). */
export type Dim = number | string;

/** A value flowing through the graph: a graph input, a weight, or a node output. */
export interface Value {
  /** Unique within its graph. */
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

/** Scalar and list attributes of a node. */
export type AttrValue = number | string | readonly number[];

/**
 * A node. `op` is either a standard op (see `StandardOp`) or a named composite op
 * (`NamedOp`: the recurrences) that a backend may implement natively and that the
 * ONNX lowering expands into standard ops.
 */
export interface Node {
  readonly op: OpName;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
}

/** Elementwise and structural ops with ONNX-compatible semantics (numpy broadcasting). */
export type StandardOp =
  | 'Add'
  | 'Sub'
  | 'Mul'
  | 'Div'
  | 'Max'
  | 'Exp'
  | 'Neg'
  | 'Sqrt'
  | 'Sigmoid'
  | 'Tanh'
  | 'Relu'
  | 'Softplus'
  | 'MatMul'
  | 'Linear'
  | 'Gather'
  | 'LayerNorm'
  | 'Reshape'
  | 'Transpose'
  | 'Concat'
  | 'Slice'
  | 'SliceFrom'
  | 'ReduceSum'
  | 'Cast'
  | 'Identity'
  | 'Squeeze';

/**
 * Named composite ops that a backend may implement natively and the ONNX lowering
 * expands into standard ops: the recurrences over the time axis (explicit state in and
 * out; each op's builder method gives the exact formula) and Vision-RWKV's Q-Shift (a
 * fixed gather, `graph/q-shift.ts`).
 */
export type NamedOp = 'Wkv4' | 'Wkv5' | 'Wkv7' | 'BiWkv4' | 'BiWkv6' | 'QShift';

/** Every op the IR knows. */
export type OpName = StandardOp | NamedOp;

/** A finished graph: named inputs and outputs, weights, nodes in topological order. */
export interface Graph {
  readonly name: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  /** Weights by value name. */
  readonly initializers: ReadonlyMap<string, Initializer>;
  readonly nodes: readonly Node[];
}

/** A weight: its value and the element type it should be stored with by a backend. */
export interface Initializer {
  readonly value: Value;
  readonly tensor: HostTensor;
}
