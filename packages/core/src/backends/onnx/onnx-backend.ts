import { BadInputError } from '../../errors.js';
import type { Graph } from '../../graph/ir.js';
import type { Backend, CompiledGraph, CompileOptions } from '../backend.js';
import type { ExternalData } from './external-weights.js';
import type { LowerOptions } from './lower.js';
import { lowerInWorker } from './lower-in-worker.js';
import { type LowerRequest, lowerHere } from './lower-request.js';
import { createLoweredSession } from './model-file.js';
import type { OnnxCompiledGraph } from './onnx-session.js';
import { stepFirstGraph } from './step-first.js';

/** onnxruntime-node: the CPU execution provider by default, WebGPU selectable. */
export const onnxBackend: Backend = {
  name: 'onnxruntime',
  devices: ['cpu', 'webgpu'],
  // RWKV-7 12 x 768 int4 decode on 2 cores, the step graph alone in fresh processes
  // alternating: the step's LoRAs as 3 products instead of 8 took 0.97x the time, faster in
  // 7 of 8 pairs (v7-step-loras.ts; bench/README.md "Fewer nodes a step")
  prefersFewerNodes: true,
  async compile(graph: Graph, options: CompileOptions): Promise<CompiledGraph> {
    return lowerAndOpen({ kind: 'single', graph, options: lowerOptions(options) }, options);
  },
  async compileByTime(
    whenTimeIs1: Graph,
    otherwise: Graph,
    timeInput: string,
    options: CompileOptions,
  ): Promise<CompiledGraph> {
    // On the CPU the step graph runs at the top level (lower.ts: lowerToOnnxStepFirst says
    // what it saves); WebGPU keeps both graphs as branches of one If (not measured there).
    const stepFirst = options.device === 'cpu';
    const kind = stepFirst ? 'step-first' : 'by-time';
    const graph = await lowerAndOpen(
      { kind, whenTimeIs1, otherwise, timeInput, options: lowerOptions(options) },
      options,
    );
    if (!stepFirst) return graph;
    return stepFirstGraph(
      graph,
      timeInput,
      whenTimeIs1.inputs.map((v) => v.name),
      otherwise.outputs.map((v) => v.name),
    );
  },
};

/**
 * Models whose float32 weights reach this many bytes are lowered in a worker thread
 * (`lower-in-worker.ts` says why). Smaller ones, every model we ship among them, are lowered
 * here: their lowering leaves V8 little to remember, and a worker would add to their load
 * time (starting it and copying weights made outside shared memory: 0.2-0.6 s of the 0.1B
 * model's 5.6-6.1 s from random weights, 2.3 s before the loaders decoded into shared memory).
 */
export const LOWER_IN_WORKER_MIN_BYTES = 256 * 2 ** 20;

/**
 * Lowers a model and opens its session (`createLoweredSession`: by file when large), in a
 * worker thread when very large.
 */
function lowerAndOpen(request: LowerRequest, options: CompileOptions): Promise<OnnxCompiledGraph> {
  const graphs = request.kind === 'single' ? [request.graph] : [request.whenTimeIs1, request.otherwise];
  const bytes = weightBytes(graphs);
  const lower = (external?: ExternalData): Uint8Array | Promise<Uint8Array> =>
    external && bytes >= LOWER_IN_WORKER_MIN_BYTES
      ? lowerInWorker(request, external)
      : lowerHere(request, external).bytes;
  return createLoweredSession(lower, bytes, options, graphs[graphs.length - 1]!.name);
}

/** The lowering's options for `options`. */
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

/** Bytes of the graphs' weights as float32 (each name once): what decides the file route. */
function weightBytes(graphs: readonly Graph[]): number {
  const seen = new Map<string, number>();
  for (const g of graphs)
    for (const [name, init] of g.initializers) seen.set(name, init.tensor.data.length * 4);
  let n = 0;
  for (const b of seen.values()) n += b;
  return n;
}

export { createOnnxSession } from './onnx-session.js';
