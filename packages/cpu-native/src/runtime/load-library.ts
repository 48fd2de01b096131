import { copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompileOptions, Graph } from '@rwkv-streams/core';
import { emitLibrary } from '../codegen/emit-graph.js';
import { buildLibrary } from '../compiler/c-compiler.js';
import { type GraphCall, graphCall } from './graph-call.js';
import { type GraphLibrary, openGraphLibrary } from './library.js';

let instances = 0;

/**
 * Once the float32 host weights a library was made from are collected, the allocator's free
 * pages go back to the system: freed between blocks that stay, glibc would keep them
 * resident (a loaded int4 0.1B model measured 1.28x its weight bytes, 1.04x with a fixed mmap
 * threshold; bench/README.md).
 */
const trimWhenCollected = new FinalizationRegistry<GraphLibrary>((lib) => trimSoon(lib));
const trimScheduled = new WeakSet<GraphLibrary>();

/** One trim for the weights collected within 50 ms (a model's few hundred tensors die together). */
function trimSoon(lib: GraphLibrary): void {
  if (trimScheduled.has(lib)) return;
  trimScheduled.add(lib);
  setTimeout(() => {
    trimScheduled.delete(lib);
    lib.trim();
  }, 50).unref();
}

/** A built and loaded library of graphs with its weights set. */
export interface LoadedLibrary {
  readonly lib: GraphLibrary;
  /** One a graph, in the order given. */
  readonly calls: readonly GraphCall[];
}

/**
 * Writes `graphs` as one library (their weights held once), builds it (or finds the cached
 * build), opens a copy of its own and hands it the weights: Linear weights as int4 blocks of
 * 32 when `options.quantization` asks for them.
 */
export async function loadLibrary(graphs: readonly Graph[], options: CompileOptions): Promise<LoadedLibrary> {
  const plan = emitLibrary(graphs);
  const built = await buildLibrary(plan.source);
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
  const int4 = options.quantization !== undefined;
  for (const slot of plan.weights) {
    const tensor = graphs[slot.graph]!.initializers.get(slot.name)!.tensor;
    if (slot.matrix)
      lib.setMatrix(slot.index, tensor.data as Float32Array, slot.matrix.rows, slot.matrix.cols, int4);
    else lib.setWeight(slot.index, tensor.data as Float32Array, tensor.data.length);
  }
  for (const graph of graphs)
    for (const init of graph.initializers.values()) trimWhenCollected.register(init.tensor.data, lib);
  return { lib, calls: graphs.map((graph, g) => graphCall(graph, g, plan.graphs[g]!)) };
}
