import type * as Ort from 'onnxruntime-node';
import { BackendUnavailableError, BadInputError } from '../../errors.js';
import type { Graph } from '../../graph/ir.js';
import type { Backend, CompiledGraph, CompileOptions, TensorValue } from '../backend.js';
import { type LowerOptions, lowerToOnnx, lowerToOnnxByTime } from './lower.js';

/** onnxruntime-node: the CPU execution provider by default, WebGPU selectable. */
export const onnxBackend: Backend = {
  name: 'onnxruntime',
  devices: ['cpu', 'webgpu'],
  async compile(graph: Graph, options: CompileOptions): Promise<CompiledGraph> {
    return createOnnxSession(lowerToOnnx(graph, lowerOptions(options)), options, graph.name);
  },
  async compileByTime(
    whenTimeIs1: Graph,
    otherwise: Graph,
    timeInput: string,
    options: CompileOptions,
  ): Promise<CompiledGraph> {
    const bytes = lowerToOnnxByTime(whenTimeIs1, otherwise, timeInput, lowerOptions(options));
    return createOnnxSession(bytes, options, otherwise.name);
  },
};

function lowerOptions(options: CompileOptions): LowerOptions {
  const weightDType = options.weightDType ?? 'float32';
  if (weightDType === 'bfloat16') {
    throw new BadInputError(
      "weightDType 'bfloat16': onnxruntime's CPU and WebGPU providers run float32 or float16 weights; use 'float16' or device 'cuda'",
      { field: 'weightDType' },
    );
  }
  return {
    weightDType,
    cpuFusions: options.device === 'cpu',
    ...(options.quantization ? { quantization: options.quantization } : {}),
  };
}

/** Creates a session from serialized ONNX bytes (also used by tests of the lowering). */
export async function createOnnxSession(
  bytes: Uint8Array,
  options: CompileOptions,
  what: string,
): Promise<CompiledGraph> {
  // Loaded on first use: importing the core (say, to run models on CUDA) does not load
  // onnxruntime's native library.
  const ort = await loadOnnxRuntime();
  const sessionOptions: Ort.InferenceSession.SessionOptions = {
    executionProviders: [options.device === 'webgpu' ? 'webgpu' : 'cpu'],
    graphOptimizationLevel: 'all',
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
  };
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, sessionOptions);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new BackendUnavailableError(
      `onnxruntime could not create a ${options.device} session for '${what}': ${message}`,
      {
        field: 'device',
      },
    );
  }
  return {
    modelBytes: bytes.byteLength,
    async run(inputs) {
      const feeds: Record<string, Ort.Tensor> = {};
      for (const [name, t] of Object.entries(inputs)) {
        feeds[name] = new ort.Tensor(t.dtype === 'int32' ? 'int32' : 'float32', t.data, [...t.dims]);
      }
      const results = await session.run(feeds);
      const out: Record<string, TensorValue> = {};
      for (const [name, t] of Object.entries(results)) {
        out[name] = {
          dtype: t.type === 'int32' ? 'int32' : 'float32',
          dims: [...t.dims],
          data: t.data as Float32Array | Int32Array,
        };
      }
      return out;
    },
    async dispose() {
      await session.release();
    },
  };
}

let runtime: Promise<typeof Ort> | undefined;

/** onnxruntime-node, imported once. */
function loadOnnxRuntime(): Promise<typeof Ort> {
  runtime ??= import('onnxruntime-node').then((m) => m as typeof Ort);
  return runtime;
}
