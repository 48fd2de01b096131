import type { DType, Graph } from '../graph/ir.js';
import type { LinearQuantization } from './onnx/lower.js';

/** A tensor crossing the backend boundary (host memory, row-major). */
export interface TensorValue {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: Float32Array | Int32Array;
}

/** A graph prepared by a backend, ready to run many times. */
export interface CompiledGraph {
  /** Runs the graph. Inputs and outputs are keyed by the graph's value names. */
  run(inputs: Readonly<Record<string, TensorValue>>): Promise<Record<string, TensorValue>>;
  /** Frees the backend's resources for this graph. */
  dispose(): Promise<void>;
}

/** Where a backend should run, and with what resources. */
export interface CompileOptions {
  /** Device the backend targets ('cpu', 'webgpu', 'cuda'). */
  readonly device: Device;
  /** CPU threads for intra-op parallelism (0 or absent: the backend's default). */
  readonly threads?: number;
  /** Weight storage precision (compute is float32). */
  readonly weightDType?: 'float32' | 'float16';
  /** Block quantization of `Linear` weights (backends that cannot honour it say so). */
  readonly quantization?: LinearQuantization;
}

/** Devices a model can be placed on. */
export type Device = 'cpu' | 'webgpu' | 'cuda';

/**
 * A backend executes IR graphs. The ONNX backend lowers them to ONNX for onnxruntime;
 * a native backend (CUDA) implements the named recurrences with its own kernels.
 */
export interface Backend {
  /** Unique name, e.g. 'onnxruntime'. */
  readonly name: string;
  /** Devices this backend can run on. */
  readonly devices: readonly Device[];
  /** Prepares a graph for repeated execution. */
  compile(graph: Graph, options: CompileOptions): Promise<CompiledGraph>;
  /**
   * Optional: prepares two graphs with the same inputs, outputs and weights as ONE
   * executable holding the weights once, which runs `whenTimeIs1` for inputs whose time
   * axis (axis 1 of `timeInput`) has size 1 and `otherwise` for the rest (a model's
   * recurrent and sequence graphs). Backends without it get the two compiled separately.
   */
  compileByTime?(
    whenTimeIs1: Graph,
    otherwise: Graph,
    timeInput: string,
    options: CompileOptions,
  ): Promise<CompiledGraph>;
}
