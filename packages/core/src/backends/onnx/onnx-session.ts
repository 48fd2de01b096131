import type * as Ort from 'onnxruntime-node';
import { BackendUnavailableError } from '../../errors.js';
import type { CompiledGraph, CompileOptions, TensorValue } from '../backend.js';
import { defaultCpuThreads } from './cpu-threads.js';

/**
 * What a session is made from: a serialized model in memory, or a model file (whose
 * external weights lie beside it) with the bytes of model and weights together.
 */
export type OnnxModelSource = Uint8Array | { readonly path: string; readonly bytes: number };

/**
 * A compiled graph of this backend: `run` may name the outputs wanted (`fetch`); the others
 * are computed (onnxruntime runs every node) but never copied to the host.
 */
export interface OnnxCompiledGraph extends CompiledGraph {
  run(
    inputs: Readonly<Record<string, TensorValue>>,
    fetch?: readonly string[],
  ): Promise<Record<string, TensorValue>>;
}

/** Creates a session from a lowered model (also used by tests of the lowering). */
export async function createOnnxSession(
  model: OnnxModelSource,
  options: CompileOptions,
  what: string,
): Promise<OnnxCompiledGraph> {
  // Loaded on first use: importing the core (say, to run models on CUDA) does not load
  // onnxruntime's native library.
  const ort = await loadOnnxRuntime();
  const sessionOptions: Ort.InferenceSession.SessionOptions = {
    executionProviders: [options.device === 'webgpu' ? 'webgpu' : 'cpu'],
    graphOptimizationLevel: 'all',
    // always a count: onnxruntime's own default pins its threads (cpu-threads.ts says what it cost)
    intraOpNumThreads: options.threads || defaultCpuThreads(),
    interOpNumThreads: 1,
  };
  let session: Ort.InferenceSession;
  try {
    session =
      model instanceof Uint8Array
        ? await ort.InferenceSession.create(model, sessionOptions)
        : await ort.InferenceSession.create(model.path, sessionOptions);
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
    modelBytes: model instanceof Uint8Array ? model.byteLength : model.bytes,
    async run(inputs, fetch) {
      const feeds: Record<string, Ort.Tensor> = {};
      for (const [name, t] of Object.entries(inputs)) {
        // onnxruntime-node refuses an input over shared memory ("Invalid argument" at run):
        // weights decoded by the loaders live there (tensor/shared-floats.ts), and a caller
        // may feed one, so such an input is copied (slice() makes an ordinary array)
        const data = t.data.buffer instanceof SharedArrayBuffer ? t.data.slice() : t.data;
        feeds[name] = new ort.Tensor(t.dtype === 'int32' ? 'int32' : 'float32', data, [...t.dims]);
      }
      const results = fetch ? await session.run(feeds, [...fetch]) : await session.run(feeds);
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
