import { BadInputError } from '../errors.js';
import type { DType, Graph } from '../graph/ir.js';
import { numel } from '../tensor/host-tensor.js';
import type { LinearQuantization } from './onnx/lower.js';

/** A tensor crossing the backend boundary (host memory, row-major). */
export interface TensorValue {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: Float32Array | Int32Array;
}

/** A carried value that starts at zero: only its shape crosses to the backend. */
export interface ZerosValue {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly zeros: true;
}

/** A carried input's first value (see `CompiledGraph.openSession`). */
export type InitialValue = TensorValue | ZerosValue;

/** The host tensor an initial value stands for (zeros are allocated here). */
export function initialTensor(v: InitialValue): TensorValue {
  if (!('zeros' in v)) return v;
  const n = numel(v.dims);
  return {
    dtype: v.dtype,
    dims: v.dims,
    data: v.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n),
  };
}

/** A graph prepared by a backend, ready to run many times. */
export interface CompiledGraph {
  /** Runs the graph. Inputs and outputs are keyed by the graph's value names. */
  run(inputs: Readonly<Record<string, TensorValue>>): Promise<Record<string, TensorValue>>;
  /**
   * Optional: a session that keeps `carry`'s values on the backend between calls (each
   * call's output `k` becomes the next call's input `carry[k]`), starting from `initial`
   * (keyed by input name; a `ZerosValue` starts at zero without a host copy). A recurrent
   * model's state then never crosses to the host between tokens. Backends without it get
   * `hostSession`, which carries on the host.
   */
  openSession?(carry: Carry, initial: Readonly<Record<string, InitialValue>>): Promise<GraphSession>;
  /**
   * Optional: bytes of the model as handed to the backend, weights as it stores them
   * (quantized blobs, scales and zero points where quantized); the ONNX backend gives the
   * serialized model's size, of which the graph itself is well under a megabyte. What a
   * loaded model's resident memory is compared with.
   */
  readonly modelBytes?: number;
  /** Frees the backend's resources for this graph. */
  dispose(): Promise<void>;
}

/** Outputs a session feeds back: output name -> the input it becomes on the next call. */
export type Carry = Readonly<Record<string, string>>;

/**
 * Host arrays that named outputs are written into instead of new arrays (see
 * `GraphSession.run`): each of exactly the output's element count and dtype.
 */
export type OutputArrays = Readonly<Record<string, Float32Array | Int32Array>>;

/** A compiled graph with some values carried from call to call (see `openSession`). */
export interface GraphSession {
  /**
   * Runs with the inputs that are not carried; returns the outputs that are not carried.
   * An output named in `into` is written into that array (returned as its `data`) instead
   * of a new one: a caller stepping many streams reuses one array for logits every call
   * (a new 16 MB array a step, 64 streams x 65536, cost more than the CUDA step itself:
   * the allocator's zero fill and first-touch page faults).
   */
  run(
    inputs: Readonly<Record<string, TensorValue>>,
    into?: OutputArrays,
  ): Promise<Record<string, TensorValue>>;
  /** The carried values now, keyed by input name (copied to the host). */
  read(): Promise<Record<string, TensorValue>>;
  /**
   * Optional: `request.steps` calls in a row where each call's `request.feed` input is the
   * token drawn (lm/token-draw.ts) from the previous call's `request.from` output, drawn
   * where that output is, so nothing crosses to the host between calls. Returns the drawn
   * tokens, [batch, steps] row-major. Sessions without it are driven by `RwkvSession.generate`
   * call by call, drawing on the host.
   */
  draw?(request: DrawRequest): Promise<Int32Array>;
  /** Frees what the session holds (the compiled graph stays). */
  dispose(): Promise<void>;
}

/** What `GraphSession.draw` runs. */
export interface DrawRequest {
  /**
   * The first call's inputs that are not carried; `feed` among them holds the first tokens,
   * [batch, 1] int32. Later calls take the same inputs with `feed` replaced by the draws.
   */
  readonly inputs: Readonly<Record<string, TensorValue>>;
  /** The int32 [batch, 1] input that receives each drawn token. */
  readonly feed: string;
  /** The float32 output the tokens are drawn from: [batch, 1, vocabulary] or [batch, vocabulary]. */
  readonly from: string;
  /** Calls to run (>= 1): as many tokens are drawn a stream. */
  readonly steps: number;
  /** 0: the argmax; otherwise the Gumbel-max draw at this temperature. */
  readonly temperature: number;
  /** Seed of the draws (unsigned 32-bit). */
  readonly seed: number;
  /** The step number of the first draw (`drawKey`'s step; later draws count up from it). */
  readonly firstStep: number;
}

/** A session that carries values on the host: the fallback for any compiled graph. */
export function hostSession(
  graph: CompiledGraph,
  carry: Carry,
  initial: Readonly<Record<string, InitialValue>>,
): GraphSession {
  let carried: Record<string, TensorValue> = Object.fromEntries(
    Object.entries(initial).map(([k, v]) => [k, initialTensor(v)]),
  );
  return {
    async run(inputs, into) {
      const out = await graph.run({ ...inputs, ...carried });
      const next: Record<string, TensorValue> = {};
      const rest: Record<string, TensorValue> = {};
      for (const [name, value] of Object.entries(out)) {
        const to = carry[name];
        if (to) next[to] = value;
        else rest[name] = into?.[name] ? writeInto(name, value, into[name]) : value;
      }
      carried = next;
      return rest;
    },
    async read() {
      return { ...carried };
    },
    async dispose() {
      carried = {};
    },
  };
}

/** Where a backend should run, and with what resources. */
export interface CompileOptions {
  /** Device the backend targets ('cpu', 'webgpu', 'cuda'). */
  readonly device: Device;
  /** CPU threads for intra-op parallelism (0 or absent: the backend's default; onnxruntime: one a physical core). */
  readonly threads?: number;
  /** Weight storage precision (compute is float32). */
  readonly weightDType?: WeightDType;
  /** Block quantization of `Linear` weights (backends that cannot honour it say so). */
  readonly quantization?: LinearQuantization;
}

/**
 * How a backend stores weights (activations and state stay float32). The ONNX backend
 * stores float32 or float16; the CUDA backend also bfloat16.
 */
export type WeightDType = 'float32' | 'float16' | 'bfloat16';

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
  /**
   * Whether this backend pays a fixed cost for every node it runs (onnxruntime on the CPU:
   * about 0.4-10 us a node whatever its size), so that graph writers should trade a little
   * arithmetic or a few weight bytes for fewer nodes where they can (RWKV-7's step LoRAs,
   * `BlockOptions.mergeStepLoras`). Default false: the graph as written.
   */
  readonly prefersFewerNodes?: boolean;
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

/**
 * `value` copied into `target` (an `OutputArrays` entry), which then stands for it; a
 * target of the wrong dtype or size is a `BadInputError` naming the output.
 */
export function writeInto(name: string, value: TensorValue, target: Float32Array | Int32Array): TensorValue {
  checkOutputArray(name, value.dtype, value.data.length, target);
  target.set(value.data);
  return { dtype: value.dtype, dims: value.dims, data: target };
}

/** Throws `BadInputError` unless `target` can hold an output of `dtype` with `count` elements. */
export function checkOutputArray(
  name: string,
  dtype: TensorValue['dtype'],
  count: number,
  target: Float32Array | Int32Array,
): void {
  const targetType = target instanceof Int32Array ? 'int32' : 'float32';
  if (targetType !== dtype || target.length !== count)
    throw new BadInputError(
      `output '${name}' is ${dtype} with ${count} elements; the array given for it is ${targetType} with ${target.length}`,
      { field: name },
    );
}
