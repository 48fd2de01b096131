import {
  type Backend,
  BackendUnavailableError,
  BadInputError,
  type CompiledGraph,
  type CompileOptions,
  DisposedError,
  type Graph,
  onnxBackend,
  type TensorValue,
} from '@rwkv-streams/core';
import { unsupportedReason } from './codegen/emit-graph.js';
import { buildLibrary } from './compiler/c-compiler.js';
import { bindInputs, type GraphCall, runBound } from './runtime/graph-call.js';
import { loadLibrary } from './runtime/load-library.js';
import { nativeSession } from './runtime/native-session.js';

/**
 * Why `options` keep a graph off this backend: quantizations other than int4 in blocks of 32,
 * and weights stored in another type than float32 (float16 is onnxruntime's).
 */
export function unsupportedOptions(options: CompileOptions): string | undefined {
  const q = options.quantization;
  if (q && (q.bits !== 4 || q.blockSize !== 32))
    return `${q.bits}-bit blocks of ${q.blockSize} are not compiled (int4 blocks of 32 are)`;
  if (options.weightDType && options.weightDType !== 'float32')
    return `weights of type ${options.weightDType} are not compiled (float32 and int4 are)`;
  return undefined;
}

/**
 * A compiled library of graphs as one `CompiledGraph`: `pick` chooses the graph a call runs;
 * sessions keep their carried values in arrays the library writes into in turn.
 */
async function compiledLibrary(
  graphs: readonly Graph[],
  options: CompileOptions,
  pick: (calls: readonly GraphCall[], inputs: Readonly<Record<string, TensorValue>>) => GraphCall,
): Promise<CompiledGraph> {
  const { lib, calls } = await loadLibrary(graphs, options);
  let disposed = false;
  const choose = (inputs: Readonly<Record<string, TensorValue>>) => {
    if (disposed) throw new DisposedError('native CPU graph');
    return pick(calls, inputs);
  };
  return {
    modelBytes: lib.weightBytes(),
    async run(feeds) {
      const call = choose(feeds);
      return runBound(lib, call, bindInputs(lib, call, feeds));
    },
    async openSession(carry, initial) {
      if (disposed) throw new DisposedError('native CPU graph');
      return nativeSession(lib, choose, carry, initial);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      lib.close();
    },
  };
}

/**
 * Compiles a graph to C and opens it, or hands it to onnxruntime when it uses what this
 * backend does not compile yet (`unsupportedReason`): every graph runs either way.
 */
async function compile(graph: Graph, options: CompileOptions): Promise<CompiledGraph> {
  if (unsupportedOptions(options) || unsupportedReason(graph)) return onnxBackend.compile(graph, options);
  return compiledLibrary([graph], options, (calls) => calls[0]!);
}

/**
 * A model's step and sequence graphs as one library holding the weights once, the call's time
 * axis choosing the graph; when either graph is not compiled here both go to onnxruntime's
 * `compileByTime` (which also holds them once).
 */
async function compileByTime(
  whenTimeIs1: Graph,
  otherwise: Graph,
  timeInput: string,
  options: CompileOptions,
): Promise<CompiledGraph> {
  if (unsupportedOptions(options) || unsupportedReason(whenTimeIs1) || unsupportedReason(otherwise))
    return onnxBackend.compileByTime!(whenTimeIs1, otherwise, timeInput, options);
  return compiledLibrary([whenTimeIs1, otherwise], options, (calls, inputs) => {
    const t = inputs[timeInput];
    const time = t?.dims[1];
    if (!t || t.dims.length !== 2 || time === undefined || time < 1)
      throw new BadInputError(
        `input '${timeInput}' must be [batch, time] with time >= 1, got ${t ? `[${t.dims.join(', ')}]` : 'nothing'}`,
        { field: timeInput },
      );
    return time === 1 ? calls[0]! : calls[1]!;
  });
}

/**
 * The native CPU backend: graphs compiled to one C function each by the system's C
 * compiler (OpenMP threads, the host's vector instructions), weights held by the library
 * (Linear weights as int4 blocks of 32 when quantization asks for them). A model's step and
 * sequence graphs share one library and its weights. It serves the 'cpu' device once
 * registered (importing the package), and hands onnxruntime every graph it does not compile
 * yet, so a model runs whole either way.
 */
export const cpuNativeBackend: Backend = {
  name: 'cpu-native',
  devices: ['cpu'],
  compile,
  compileByTime,
};

/** Rejects when this machine cannot build the backend's libraries (no C compiler, or one that fails). */
export async function assertCpuNativeAvailable(): Promise<void> {
  try {
    await buildLibrary('int rs_probe(void) { return 1; }\n');
  } catch (err) {
    if (err instanceof BackendUnavailableError) throw err;
    throw new BackendUnavailableError(`the native CPU backend cannot build: ${(err as Error).message}`, {
      field: 'RWKV_STREAMS_CC',
    });
  }
}
