import { copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { emitGraph, unsupportedReason } from './codegen/emit-graph.js';
import { buildLibrary } from './compiler/c-compiler.js';
import { type GraphLibrary, openGraphLibrary } from './runtime/library.js';

let instances = 0;

/**
 * Compiles a graph to C and opens it, or hands it to onnxruntime when it uses what this
 * backend does not compile yet (`unsupportedReason`): every graph runs either way.
 */
async function compile(graph: Graph, options: CompileOptions): Promise<CompiledGraph> {
  const q = options.quantization;
  if (q && (q.bits !== 4 || q.blockSize !== 32)) return onnxBackend.compile(graph, options);
  if (unsupportedReason(graph) !== undefined) return onnxBackend.compile(graph, options);
  const int4 = q !== undefined;
  const plan = emitGraph(graph);
  const built = buildLibrary(plan.source);
  // A library's weights and buffers are static data, shared by every load of one path: each
  // compiled graph opens a copy of its own (unlinked once loaded; the mapping stays).
  const instance = join(tmpdir(), `rwkv-streams-cpu-native-${process.pid}-${instances++}.so`);
  copyFileSync(built, instance);
  let lib: GraphLibrary;
  try {
    lib = openGraphLibrary(instance);
  } finally {
    rmSync(instance, { force: true });
  }
  lib.setThreads(options.threads ?? 0);
  for (const slot of plan.weights) {
    const tensor = graph.initializers.get(slot.name)!.tensor;
    if (slot.matrix) lib.setMatrix(slot.index, tensor.data, slot.matrix.rows, slot.matrix.cols, int4);
    else lib.setWeight(slot.index, tensor.data, tensor.data.length);
  }
  const inputs = plan.inputs;
  const outputs = plan.outputs;
  let disposed = false;
  return {
    modelBytes: lib.weightBytes(),
    async run(feeds) {
      if (disposed) throw new DisposedError('native CPU graph');
      let batch: number | undefined;
      inputs.forEach((v, i) => {
        const t = feeds[v.name];
        if (!t) throw new BadInputError(`graph '${graph.name}' needs input '${v.name}'`, { field: v.name });
        if (t.dims.length !== v.shape.length)
          throw new BadInputError(
            `input '${v.name}' must have rank ${v.shape.length}, got [${t.dims.join(', ')}]`,
            {
              field: v.name,
            },
          );
        v.shape.forEach((d, axis) => {
          const got = t.dims[axis]!;
          if (d === 'batch') {
            batch ??= got;
            if (got !== batch)
              throw new BadInputError(`input '${v.name}' has batch ${got}, another input has ${batch}`, {
                field: v.name,
              });
          } else if (got !== d)
            throw new BadInputError(
              `input '${v.name}' must be [${v.shape.join(', ')}], got [${t.dims.join(', ')}]`,
              {
                field: v.name,
              },
            );
        });
        const want = v.dtype === 'int32' ? Int32Array : Float32Array;
        if (!(t.data instanceof want) || t.data.length !== t.dims.reduce((a, b) => a * b, 1))
          throw new BadInputError(`input '${v.name}' must hold ${v.dtype} data matching its dims`, {
            field: v.name,
          });
        lib.bindInput(i, t.data);
      });
      const b = batch ?? 1;
      const out: Record<string, TensorValue> = {};
      outputs.forEach((v, i) => {
        const dims = v.shape.map((d) => (typeof d === 'number' ? d : b));
        const n = dims.reduce((x, y) => x * y, 1);
        const data = v.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
        lib.bindOutput(i, data);
        out[v.name] = { dtype: v.dtype === 'int32' ? 'int32' : 'float32', dims, data };
      });
      if (lib.run(b) !== 0) throw new BadInputError(lib.errorMessage(), { field: 'inputs' });
      return out;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      lib.close();
    },
  };
}

/**
 * The native CPU backend: graphs compiled to one C function each by the system's C
 * compiler (OpenMP threads, the host's vector instructions), weights held by the library
 * (Linear weights as int4 blocks of 32 when quantization asks for them). It serves the
 * 'cpu' device once registered (`registerCpuNative()`), and hands onnxruntime every graph it
 * does not compile yet, so a model runs whole either way.
 */
export const cpuNativeBackend: Backend = {
  name: 'cpu-native',
  devices: ['cpu'],
  compile,
};

/** Throws when this machine cannot build the backend's libraries (no C compiler). */
export function assertCpuNativeAvailable(): void {
  try {
    buildLibrary('int rs_probe(void) { return 1; }\n');
  } catch (err) {
    if (err instanceof BackendUnavailableError) throw err;
    throw new BackendUnavailableError(`the native CPU backend cannot build: ${(err as Error).message}`, {
      field: 'RWKV_STREAMS_CC',
    });
  }
}
