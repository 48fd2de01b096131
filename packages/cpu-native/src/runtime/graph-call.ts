import { BadInputError, type Graph, type TensorValue } from '@rwkv-streams/core';
import { dimValue } from '../codegen/dims.js';
import type { GraphEntry } from '../codegen/emit-graph.js';
import type { GraphLibrary } from './library.js';

/** A run's sizes: streams, time steps and positions (see `dims.ts`). */
export interface RunSizes {
  readonly B: number;
  readonly T: number;
  readonly P: number;
}

/** How one graph of a library is called: its inputs and outputs and where P comes from. */
export interface GraphCall {
  readonly graph: number;
  readonly name: string;
  readonly entry: GraphEntry;
  /** The int32 input whose value starts the last P positions of a T-long axis (`logits_from`). */
  readonly positionsFrom?: { readonly input: number; readonly length: string | number };
}

/** Describes graph `g` of a library for calls. */
export function graphCall(graph: Graph, g: number, entry: GraphEntry): GraphCall {
  const slice = graph.nodes.find((n) => n.op === 'SliceFrom' && n.outputs[0]!.shape.includes('positions'));
  if (!slice) return { graph: g, name: graph.name, entry };
  const axis = Number(slice.attrs['axis']);
  const input = graph.inputs.findIndex((v) => v.name === slice.inputs[1]!.name);
  if (input < 0) throw new Error(`graph '${graph.name}': SliceFrom's start is not a graph input`);
  return {
    graph: g,
    name: graph.name,
    entry,
    positionsFrom: { input, length: slice.inputs[0]!.shape[axis]! },
  };
}

/**
 * Checks `feeds` against the graph's inputs (names, ranks, fixed dims, one batch and one time
 * size across inputs, dtypes and lengths), binds them and returns the run's sizes.
 */
export function bindInputs(
  lib: GraphLibrary,
  call: GraphCall,
  feeds: Readonly<Record<string, TensorValue>>,
): RunSizes {
  const sizes: { B?: number; T?: number } = {};
  const { inputs } = call.entry;
  inputs.forEach((v) => {
    const t = feeds[v.name];
    if (!t) throw new BadInputError(`graph '${call.name}' needs input '${v.name}'`, { field: v.name });
    if (t.dims.length !== v.shape.length)
      throw new BadInputError(
        `input '${v.name}' must have rank ${v.shape.length}, got [${t.dims.join(', ')}]`,
        {
          field: v.name,
        },
      );
    v.shape.forEach((d, axis) => {
      const got = t.dims[axis]!;
      const symbol = d === 'batch' ? 'B' : d === 'time' ? 'T' : undefined;
      if (symbol) {
        const known = sizes[symbol];
        if (known === undefined) sizes[symbol] = got;
        else if (got !== known)
          throw new BadInputError(`input '${v.name}' has ${d} ${got}, another input has ${known}`, {
            field: v.name,
          });
      } else if (typeof d === 'number' && got !== d)
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
  });
  const B = sizes.B ?? 1;
  const T = sizes.T ?? 1;
  if (sizes.T !== undefined && T < 1)
    throw new BadInputError(`graph '${call.name}' needs at least one time step, got ${T}`, { field: 'time' });
  let P = 0;
  const from = call.positionsFrom;
  if (from) {
    const v = inputs[from.input]!;
    const start = feeds[v.name]!.data[0]!;
    const length = dimValue(from.length, { B, T, P: 0 });
    if (!(start >= 0 && start < length))
      throw new BadInputError(`input '${v.name}' is ${start}: it must be in 0..${length - 1}`, {
        field: v.name,
      });
    P = length - start;
  }
  inputs.forEach((v, i) => {
    lib.bindInput(call.graph, i, feeds[v.name]!.data);
  });
  return { B, T, P };
}

/**
 * Runs a graph whose inputs are bound: each output goes into `target(name, count)` when that
 * gives an array, else into a new one. A failed run is a BadInputError with the library's message.
 */
export function runBound(
  lib: GraphLibrary,
  call: GraphCall,
  sizes: RunSizes,
  target?: (name: string, count: number) => Float32Array | Int32Array | undefined,
): Record<string, TensorValue> {
  const out: Record<string, TensorValue> = {};
  call.entry.outputs.forEach((v, i) => {
    const dims = v.shape.map((d) => dimValue(d, sizes));
    const n = dims.reduce((x, y) => x * y, 1);
    const data = target?.(v.name, n) ?? (v.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n));
    lib.bindOutput(call.graph, i, data);
    out[v.name] = { dtype: v.dtype === 'int32' ? 'int32' : 'float32', dims, data };
  });
  if (lib.run(call.graph, sizes.B, sizes.T, sizes.P) !== 0)
    throw new BadInputError(lib.errorMessage(), { field: 'inputs' });
  return out;
}
