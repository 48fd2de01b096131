import type { Graph, Node, Value } from '@rwkv-streams/core';
import { KERNELS_C } from '../runtime/kernels.js';
import { type CValue, type EmitContext, numelExpr, type OpEmitter } from './context.js';
import { dimToC, unsupportedDim } from './dims.js';
import { emitAlias } from './ops/alias.js';
import { emitConcat } from './ops/concat.js';
import { ELEMENTWISE_OPS, emitElementwise } from './ops/elementwise.js';
import { emitGather } from './ops/gather.js';
import { emitLayerNorm } from './ops/layer-norm.js';
import { emitLinear } from './ops/linear.js';
import { emitReduceSum, reduceSumSupported } from './ops/reduce-sum.js';
import { emitSlice, sliceSupported } from './ops/slice.js';
import { emitSliceFrom } from './ops/slice-from.js';
import { emitWkv7 } from './ops/wkv7.js';
import { type NodeKind, scheduleNodes } from './schedule.js';

/** The ops this backend writes C for; a graph with any other runs on onnxruntime instead. */
const EMITTERS: ReadonlyMap<string, OpEmitter> = new Map<string, OpEmitter>([
  ...ELEMENTWISE_OPS.map((op) => [op, emitElementwise] as const),
  ['Linear', emitLinear],
  ['LayerNorm', emitLayerNorm],
  ['ReduceSum', emitReduceSum],
  ['Slice', emitSlice],
  ['SliceFrom', emitSliceFrom],
  ['Concat', emitConcat],
  ['Gather', emitGather],
  ['Reshape', emitAlias],
  ['Squeeze', emitAlias],
  ['Identity', emitAlias],
  ['Cast', emitAlias],
  ['Wkv7', emitWkv7],
]);

/** Ops whose threads share the work (the rest run on one thread, or are views). */
const PARALLEL_OPS = new Set(['Linear', 'Wkv7']);
const ALIAS_OPS = new Set(['Reshape', 'Squeeze', 'Identity', 'Cast']);
const kindOf = (node: Node): NodeKind =>
  PARALLEL_OPS.has(node.op) ? 'parallel' : ALIAS_OPS.has(node.op) ? 'alias' : 'serial';

/** Per-node conditions beyond the op's name. */
const SUPPORTED_WHEN: Readonly<Record<string, (node: Node) => boolean>> = {
  ReduceSum: reduceSumSupported,
  Slice: sliceSupported,
  Cast: (node) => node.attrs['to'] === 'float32' && node.inputs[0]!.dtype === 'float32',
};

/**
 * Why this backend cannot compile `graph` (the first op or dim it does not cover), or
 * undefined when it can. Covered today: the ops of RWKV-7 graphs, step and sequence, with
 * the symbolic dims of `dims.ts` (batch, time, positions and sums of them).
 */
export function unsupportedReason(graph: Graph): string | undefined {
  const dimOf = (v: Value) => {
    const d = unsupportedDim(v.shape);
    return d === undefined
      ? undefined
      : `value '${v.name}' has the dim '${d}' (not one the C is written for)`;
  };
  for (const v of [...graph.inputs, ...graph.outputs]) {
    const why = dimOf(v);
    if (why) return why;
  }
  for (const node of graph.nodes) {
    if (!EMITTERS.has(node.op)) return `op ${node.op} is not compiled to C yet`;
    if (!(SUPPORTED_WHEN[node.op]?.(node) ?? true))
      return `op ${node.op} with these attributes is not compiled`;
    for (const v of node.outputs) {
      const why = dimOf(v);
      if (why) return why;
    }
  }
  return undefined;
}

/** Blocks (single blocks, worksharing loops, barriers) a function of a graph's run holds. */
const PART_BLOCKS = 24;

/** A weight as the library is handed it. */
export interface WeightSlot {
  readonly name: string;
  readonly index: number;
  /** Which graph's initializer it is (the first that has it). */
  readonly graph: number;
  /** Set for weights read only by Linear: stored as an `rs_matrix` (int4 where asked and possible). */
  readonly matrix?: { readonly rows: number; readonly cols: number };
}

/** One graph of a library: `rs_run(g, B, T, P)` runs it. */
export interface GraphEntry {
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  /** Node buffers the library holds for it (views, reused storage and outputs written in place excluded). */
  readonly buffers: number;
}

/** The C of a library of graphs and the order of its weights, inputs and outputs. */
export interface LibrarySource {
  readonly source: string;
  /** Weights of all the graphs, each held once (graphs share a weight of the same name and data). */
  readonly weights: readonly WeightSlot[];
  readonly graphs: readonly GraphEntry[];
}

/** Whether two initializers of one name hold the same data (a model's graphs share most). */
function sameTensor(a: Float32Array | Int32Array, b: Float32Array | Int32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length || a.constructor !== b.constructor) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Writes graphs as one C library holding their weights once: `rs_run(g, B, T, P)` runs graph
 * g inside one OpenMP parallel region, serial nodes grouped in `single` blocks and the shared
 * ones (products, WKV heads) as worksharing loops, none of them ending in a barrier of its
 * own: a barrier goes before the first node that reads a buffer another thread may still be
 * writing, so independent products (r, k, v and the LoRAs' first halves) run back to back.
 * A node's buffer is reused by a later node of the same size once a barrier has passed its
 * last reader (a sequence graph at T = 512 would otherwise hold a buffer a node).
 */
export function emitLibrary(graphs: readonly Graph[]): LibrarySource {
  for (const graph of graphs) {
    const reason = unsupportedReason(graph);
    if (reason) throw new Error(`emitLibrary: graph '${graph.name}': ${reason}`);
  }
  const dim = (d: number | string) => dimToC(d)!;

  // Weights: one slot a name and data; an rs_matrix for those only Linear reads.
  const linearOnly = new Map<string, boolean>();
  for (const graph of graphs)
    for (const node of graph.nodes)
      node.inputs.forEach((v, i) => {
        if (!graph.initializers.has(v.name)) return;
        linearOnly.set(v.name, (linearOnly.get(v.name) ?? true) && node.op === 'Linear' && i === 1);
      });
  const weights: WeightSlot[] = [];
  const weightValues: Map<string, CValue>[] = graphs.map(() => new Map());
  const held = new Map<string, { slot: WeightSlot; data: Float32Array | Int32Array }[]>();
  graphs.forEach((graph, g) => {
    for (const [name, init] of graph.initializers) {
      const shape = init.value.shape as readonly number[];
      const same = held.get(name)?.find((h) => sameTensor(h.data, init.tensor.data));
      let slot = same?.slot;
      if (!slot) {
        const matrix = linearOnly.get(name) ? { rows: shape[0]!, cols: shape[1]! } : undefined;
        slot = { name, index: weights.length, graph: g, ...(matrix ? { matrix } : {}) };
        weights.push(slot);
        held.set(name, [...(held.get(name) ?? []), { slot, data: init.tensor.data }]);
      }
      weightValues[g]!.set(name, { ptr: `W[${slot.index}]`, dims: shape.map(dim), dtype: init.value.dtype });
    }
  });

  const bodies = graphs.map((graph, g) => emitBody(graph, g, weightValues[g]!, weights));
  const entries: GraphEntry[] = graphs.map((graph, g) => ({
    inputs: graph.inputs,
    outputs: graph.outputs,
    buffers: bodies[g]!.buffers.length,
  }));

  const perGraph = bodies.map((body, g) => {
    const n = Math.max(1, body.buffers.length);
    // The run's blocks as functions of PART_BLOCKS blocks each, called by every thread inside
    // the one parallel region (their worksharing loops and barriers bind to it): the compiler
    // optimizes small functions much faster than one long one.
    const parts: string[][] = [];
    for (let i = 0; i < body.blocks.length; i += PART_BLOCKS)
      parts.push(body.blocks.slice(i, i + PART_BLOCKS));
    const grow = body.buffers
      .map(
        (size, i) =>
          `  need = (size_t)(${size}); if (need < 1) need = 1; if (need > CAP${g}[${i}]) { free(V${g}[${i}]); V${g}[${i}] = rs_alloc(sizeof(float) * need); CAP${g}[${i}] = need; }`,
      )
      .join('\n');
    return `
static void* IN${g}[${Math.max(1, graphs[g]!.inputs.length)}];
static void* OUT${g}[${Math.max(1, graphs[g]!.outputs.length)}];
static float* V${g}[${n}];
static size_t CAP${g}[${n}];

/* Buffers grown (never shrunk) to the call's sizes: a prefill of any length reuses them. */
static void rs_grow${g}(int64_t B, int64_t T, int64_t P) {
  size_t need;
  (void)B; (void)T; (void)P; (void)need;
${grow}
}

static void rs_free${g}(void) {
  for (int i = 0; i < ${n}; i++) { free(V${g}[i]); V${g}[i] = NULL; CAP${g}[i] = 0; }
}

${parts
  .map(
    (part, c) => `static __attribute__((noinline)) void rs_part${g}_${c}(int64_t B, int64_t T, int64_t P) {
  (void)B; (void)T; (void)P;
${part.join('\n')}
}`,
  )
  .join('\n\n')}

static void rs_run${g}(int64_t B, int64_t T, int64_t P) {
  (void)T; (void)P;
  rs_grow${g}(B, T, P);
#pragma omp parallel
  {
${parts.map((_, c) => `    rs_part${g}_${c}(B, T, P);`).join('\n')}
  }
${body.outputs.join('\n')}
}
`;
  });

  const source = `${KERNELS_C}
#include <stdio.h>
static float* W[${Math.max(1, weights.length)}];
static rs_matrix M[${Math.max(1, weights.length)}];
static int rs_err;
${perGraph.join('\n')}
RS_EXPORT void rs_set_threads(int n) { if (n > 0) omp_set_num_threads(n); }

/* Gives the allocator's free pages back to the system (glibc; elsewhere nothing to do). */
RS_EXPORT void rs_trim(void) {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}
RS_EXPORT const char* rs_error_message(void) { return rs_message; }

RS_EXPORT void rs_bind_input(int g, int i, void* p) {
  switch (g) {
${graphs.map((_, g) => `    case ${g}: IN${g}[i] = p; break;`).join('\n')}
  }
}

RS_EXPORT void rs_bind_output(int g, int i, void* p) {
  switch (g) {
${graphs.map((_, g) => `    case ${g}: OUT${g}[i] = p; break;`).join('\n')}
  }
}

/* A copy of weight i (its own memory: the caller's arrays may go). */
RS_EXPORT void rs_set_weight(int i, const float* data, int64_t n) {
  W[i] = rs_alloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  memcpy(W[i], data, sizeof(float) * (size_t)n);
}

/* Weight i as a Linear matrix [rows, cols]: int4 blocks when asked and cols is a multiple of 32. */
RS_EXPORT int rs_set_matrix(int i, const float* data, int64_t rows, int64_t cols, int int4) {
  M[i].rows = rows;
  M[i].cols = cols;
  if (int4 && cols % 32 == 0) {
    rs_quantize(&M[i], data);
    M[i].w = NULL;
    return 1;
  }
  rs_set_weight(i, data, rows * cols);
  M[i].w = W[i];
  return 0;
}

/* Bytes the library holds for weights (quantized ones at their quantized size). */
RS_EXPORT int64_t rs_weight_bytes(void) {
  int64_t total = 0;
  for (int i = 0; i < ${weights.length}; i++) {
    if (M[i].codes) total += M[i].rows * (M[i].cols / 32) * (16 + 8);
    else if (M[i].w) total += M[i].rows * M[i].cols * 4;
  }
${weights
  .filter((w) => !w.matrix)
  .map((w) => `  total += (int64_t)sizeof(float) * (${numelExpr(weightValues[w.graph]!.get(w.name)!.dims)});`)
  .join('\n')}
  return total;
}

/* Frees everything the library holds: buffers, weights, quantized inputs. */
RS_EXPORT void rs_free(void) {
${graphs.map((_, g) => `  rs_free${g}();`).join('\n')}
  for (int i = 0; i < ${weights.length}; i++) {
    if (M[i].w != W[i]) free(M[i].w);
    free(W[i]);
    free(M[i].codes);
    free(M[i].scale);
    free(M[i].zero);
    W[i] = NULL;
    memset(&M[i], 0, sizeof M[i]);
  }
  rs_release_inputs();
}

/* One call of graph g for B streams of T steps, logits at the last P; 0, or 1 with rs_error_message() set. */
RS_EXPORT int rs_run(int g, int64_t B, int64_t T, int64_t P) {
  rs_err = 0;
  rs_message[0] = 0;
  switch (g) {
${graphs.map((_, g) => `    case ${g}: rs_run${g}(B, T, P); break;`).join('\n')}
    default: rs_err = 1; snprintf(rs_message, sizeof rs_message, "no graph %d in this library", g);
  }
  return rs_err;
}
`;
  return { source, weights, graphs: entries };
}

/** The body of one graph's run: its code blocks, its buffers' sizes and the final copies out. */
function emitBody(
  graph: Graph,
  g: number,
  weightValues: ReadonlyMap<string, CValue>,
  weights: readonly WeightSlot[],
): { blocks: string[]; buffers: string[]; outputs: string[] } {
  const dim = (d: number | string) => dimToC(d)!;
  const values = new Map<string, CValue>(weightValues);
  graph.inputs.forEach((v, i) => {
    const cType = v.dtype === 'int32' ? 'int32_t' : 'float';
    values.set(v.name, { ptr: `((${cType}*)IN${g}[${i}])`, dims: v.shape.map(dim), dtype: v.dtype });
  });

  const order = scheduleNodes(graph.nodes, kindOf);
  // Storage roots (an alias stands for its input's storage) and the last node reading each.
  const producer = new Map<string, Node>();
  for (const node of graph.nodes) for (const v of node.outputs) producer.set(v.name, node);
  const root = new Map<string, string>();
  const rootOf = (name: string) => root.get(name) ?? name;
  const lastRead = new Map<string, number>();
  order.forEach((node, i) => {
    if (kindOf(node) === 'alias') root.set(node.outputs[0]!.name, rootOf(node.inputs[0]!.name));
    for (const v of node.inputs) lastRead.set(rootOf(v.name), i);
  });
  // A graph output computed by a node (through views or not) is written straight into the
  // caller's array: no buffer of its own, no copy at the end. Other outputs' storage is kept.
  const direct = new Map<string, number>();
  graph.outputs.forEach((v, i) => {
    const r = rootOf(v.name);
    lastRead.set(r, Number.POSITIVE_INFINITY);
    if (producer.has(r) && !direct.has(r) && v.dtype === 'float32') direct.set(r, i);
  });

  const buffers: string[] = [];
  // free storage by size (a C expression), and storage whose last reader ran since the last
  // barrier (free once the next barrier has passed)
  const free = new Map<string, string[]>();
  let freeing: { ptr: string; size: string }[] = [];
  const storageOf = new Map<string, { ptr: string; size: string }>(); // root name -> its buffer

  const blocks: string[] = [];
  // Barriers only where a node reads what another thread may still be writing: `pending`
  // holds the buffers written since the last barrier, each with its writer (a single block's
  // number, or -1 for worksharing loops, whose threads each wrote a part).
  const pending = new Map<string, number>();
  let reads: readonly string[] = [];
  let serial: string[] = [];
  let singles = 0;
  let openSingle = -1;
  const flush = () => {
    if (serial.length === 0) return;
    blocks.push(`#pragma omp single nowait\n{\n${serial.join('\n')}\n}`);
    serial = [];
    openSingle = -1;
  };
  const barrier = () => {
    flush();
    blocks.push('#pragma omp barrier');
    pending.clear();
    for (const f of freeing) free.set(f.size, [...(free.get(f.size) ?? []), f.ptr]);
    freeing = [];
  };
  const barrierIfRead = (writerOk: number) => {
    if (reads.some((ptr) => pending.has(ptr) && pending.get(ptr) !== writerOk)) barrier();
  };
  let writer = -1;
  const matrixOf = new Map(weights.filter((w) => w.matrix).map((w) => [w.name, `M[${w.index}]`]));
  const ctx: EmitContext = {
    value(v) {
      const found = values.get(v.name);
      if (!found) throw new Error(`emitLibrary: value '${v.name}' is used before it is defined`);
      return found;
    },
    define(v) {
      const dims = v.shape.map(dim);
      const out = direct.get(v.name);
      if (out !== undefined) {
        const c: CValue = { ptr: `((float*)OUT${g}[${out}])`, dims, dtype: v.dtype };
        values.set(v.name, c);
        return c;
      }
      const size = numelExpr(dims);
      const reusable = free.get(size);
      let ptr = reusable?.pop();
      if (!ptr) {
        ptr = `V${g}[${buffers.length}]`;
        buffers.push(size);
      }
      storageOf.set(v.name, { ptr, size });
      const c: CValue = { ptr, dims, dtype: v.dtype };
      values.set(v.name, c);
      return c;
    },
    alias(v, of) {
      const c: CValue = { ptr: of.ptr, dims: v.shape.map(dim), dtype: v.dtype };
      values.set(v.name, c);
      return c;
    },
    serial(code) {
      // a node reading its own single block's writes needs no barrier: one thread runs it
      barrierIfRead(openSingle === -1 ? -2 : openSingle);
      if (openSingle === -1) openSingle = singles++;
      serial.push(code);
      writer = openSingle;
    },
    parallel(code) {
      barrierIfRead(-2);
      flush();
      blocks.push(code);
      writer = -1;
    },
    matrix(weight) {
      const m = matrixOf.get(weight.name);
      if (!m) throw new Error(`emitLibrary: '${weight.name}' is not stored as a matrix`);
      return m;
    },
    fail(message, args) {
      const text = JSON.stringify(message);
      return `if (!rs_err) { rs_err = 1; snprintf(rs_message, sizeof rs_message, ${text}${args.map((a) => `, ${a}`).join('')}); }`;
    },
  };
  order.forEach((node, i) => {
    reads = node.inputs.map((v) => ctx.value(v).ptr);
    EMITTERS.get(node.op)!(ctx, node);
    for (const v of node.outputs) {
      const ptr = values.get(v.name)!.ptr;
      // an alias writes nothing; its storage keeps the writer it had
      if (!reads.includes(ptr)) pending.set(ptr, writer);
    }
    // storage read for the last time here (or never read) is free after the next barrier
    const done = new Set<string>();
    for (const v of [...node.inputs, ...node.outputs]) {
      const r = rootOf(v.name);
      const s = storageOf.get(r);
      if (s && !done.has(r) && (lastRead.get(r) ?? -1) <= i) {
        done.add(r);
        storageOf.delete(r);
        freeing.push(s);
      }
    }
  });
  flush();

  const outputs = graph.outputs.map((v, i) => {
    const c = ctx.value(v);
    if (c.ptr === `((float*)OUT${g}[${i}])`) return `/* output ${i} written in place */`;
    const size = v.dtype === 'int32' ? 'sizeof(int32_t)' : 'sizeof(float)';
    return `memcpy(OUT${g}[${i}], ${c.ptr}, ${size} * (${numelExpr(c.dims)}));`;
  });
  return { blocks, buffers, outputs };
}
