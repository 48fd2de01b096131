import type { Graph, Node, Value } from '@rwkv-streams/core';
import { KERNELS_C } from '../runtime/kernels.js';
import { type CValue, type EmitContext, numelExpr, type OpEmitter } from './context.js';
import { emitAlias } from './ops/alias.js';
import { emitConcat } from './ops/concat.js';
import { ELEMENTWISE_OPS, emitElementwise } from './ops/elementwise.js';
import { emitGather } from './ops/gather.js';
import { emitLayerNorm } from './ops/layer-norm.js';
import { emitLinear } from './ops/linear.js';
import { emitReduceSum, reduceSumSupported } from './ops/reduce-sum.js';
import { emitSlice, sliceSupported } from './ops/slice.js';
import { emitWkv7 } from './ops/wkv7.js';
import { type NodeKind, scheduleNodes } from './schedule.js';

/** The ops this backend writes C for; a graph with any other runs on onnxruntime instead. */
const EMITTERS: ReadonlyMap<string, OpEmitter> = new Map<string, OpEmitter>([
  ...ELEMENTWISE_OPS.map((op) => [op, emitElementwise] as const),
  ['Linear', emitLinear],
  ['LayerNorm', emitLayerNorm],
  ['ReduceSum', emitReduceSum],
  ['Slice', emitSlice],
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
 * undefined when it can. Covered today: the ops of RWKV-7 step graphs (one token a call)
 * with the batch as the only symbolic dim.
 */
export function unsupportedReason(graph: Graph): string | undefined {
  const dims = (v: Value) => v.shape.find((d) => typeof d === 'string' && d !== 'batch');
  for (const v of [...graph.inputs, ...graph.outputs]) {
    const d = dims(v);
    if (d !== undefined) return `value '${v.name}' has the symbolic dim '${d}' (only 'batch' is compiled)`;
  }
  for (const node of graph.nodes) {
    if (!EMITTERS.has(node.op)) return `op ${node.op} is not compiled to C yet`;
    if (!(SUPPORTED_WHEN[node.op]?.(node) ?? true))
      return `op ${node.op} with these attributes is not compiled`;
    for (const v of node.outputs) {
      const d = dims(v);
      if (d !== undefined) return `value '${v.name}' has the symbolic dim '${d}' (only 'batch' is compiled)`;
    }
  }
  return undefined;
}

/** A weight as the library is handed it. */
export interface WeightSlot {
  readonly name: string;
  readonly index: number;
  /** Set for weights read only by Linear: stored as an `rs_matrix` (int4 where asked and possible). */
  readonly matrix?: { readonly rows: number; readonly cols: number };
}

/** The C of one graph and the order of its weights, inputs and outputs. */
export interface GraphSource {
  readonly source: string;
  readonly weights: readonly WeightSlot[];
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  /** How many node buffers the library allocates a run's batch size (views and outputs written in place excluded). */
  readonly buffers: number;
}

/**
 * Writes a graph as one C library: `rs_run(B)` runs every node in order inside one OpenMP
 * parallel region, serial nodes grouped in `single` blocks and the shared ones (products,
 * WKV heads) as worksharing loops, none of them ending in a barrier of its own: a barrier
 * goes before the first node that reads a buffer another thread may still be writing, so
 * independent products (r, k, v and the LoRAs' first halves) run back to back.
 */
export function emitGraph(graph: Graph): GraphSource {
  const reason = unsupportedReason(graph);
  if (reason) throw new Error(`emitGraph: ${reason}`);
  const dimExpr = (d: number | string) => (typeof d === 'number' ? String(d) : 'B');
  const values = new Map<string, CValue>();

  // Weights: a float copy each, or an rs_matrix for those only Linear reads.
  const linearOnly = new Map<string, boolean>();
  for (const node of graph.nodes)
    node.inputs.forEach((v, i) => {
      if (!graph.initializers.has(v.name)) return;
      const asWeight = node.op === 'Linear' && i === 1;
      linearOnly.set(v.name, (linearOnly.get(v.name) ?? true) && asWeight);
    });
  const weights: WeightSlot[] = [];
  for (const [name, init] of graph.initializers) {
    const index = weights.length;
    const shape = init.value.shape as readonly number[];
    const matrix = linearOnly.get(name) ? { rows: shape[0]!, cols: shape[1]! } : undefined;
    weights.push({ name, index, ...(matrix ? { matrix } : {}) });
    values.set(name, { ptr: `W[${index}]`, dims: shape.map(dimExpr), dtype: init.value.dtype });
  }
  graph.inputs.forEach((v, i) => {
    const cType = v.dtype === 'int32' ? 'int32_t' : 'float';
    values.set(v.name, { ptr: `((${cType}*)IN[${i}])`, dims: v.shape.map(dimExpr), dtype: v.dtype });
  });

  // A graph output computed by a node (through views or not) is written straight into the
  // caller's array: no buffer of its own, no copy at the end.
  const producer = new Map<string, Node>();
  for (const node of graph.nodes) for (const v of node.outputs) producer.set(v.name, node);
  const direct = new Map<string, number>();
  graph.outputs.forEach((v, i) => {
    let name = v.name;
    for (let p = producer.get(name); p && kindOf(p) === 'alias'; p = producer.get(name))
      name = p.inputs[0]!.name;
    if (producer.has(name) && !direct.has(name) && v.dtype === 'float32') direct.set(name, i);
  });
  const buffers: string[] = [];
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
  const barrierIfRead = (writerOk: number) => {
    if (!reads.some((ptr) => pending.has(ptr) && pending.get(ptr) !== writerOk)) return;
    flush();
    blocks.push('#pragma omp barrier');
    pending.clear();
  };
  let writer = -1;
  const matrixOf = new Map(weights.filter((w) => w.matrix).map((w) => [w.name, `M[${w.index}]`]));
  const ctx: EmitContext = {
    value(v) {
      const found = values.get(v.name);
      if (!found) throw new Error(`emitGraph: value '${v.name}' is used before it is defined`);
      return found;
    },
    define(v) {
      const out = direct.get(v.name);
      if (out !== undefined) {
        const c: CValue = { ptr: `((float*)OUT[${out}])`, dims: v.shape.map(dimExpr), dtype: v.dtype };
        values.set(v.name, c);
        return c;
      }
      const c: CValue = { ptr: `V[${buffers.length}]`, dims: v.shape.map(dimExpr), dtype: v.dtype };
      buffers.push(numelExpr(c.dims));
      values.set(v.name, c);
      return c;
    },
    alias(v, of) {
      const c: CValue = { ptr: of.ptr, dims: v.shape.map(dimExpr), dtype: v.dtype };
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
      if (!m) throw new Error(`emitGraph: '${weight.name}' is not stored as a matrix`);
      return m;
    },
    fail(message, args) {
      const text = JSON.stringify(message);
      return `if (!rs_err) { rs_err = 1; snprintf(rs_message, sizeof rs_message, ${text}${args.map((a) => `, ${a}`).join('')}); }`;
    },
  };
  for (const node of scheduleNodes(graph.nodes, kindOf)) {
    reads = node.inputs.map((v) => ctx.value(v).ptr);
    EMITTERS.get(node.op)!(ctx, node);
    for (const v of node.outputs) {
      const ptr = values.get(v.name)!.ptr;
      // an alias writes nothing; its storage keeps the writer it had
      if (!reads.includes(ptr)) pending.set(ptr, writer);
    }
  }
  flush();

  const outputs = graph.outputs.map((v, i) => {
    const c = ctx.value(v);
    if (c.ptr === `((float*)OUT[${i}])`) return `/* output ${i} written in place */`;
    const size = v.dtype === 'int32' ? 'sizeof(int32_t)' : 'sizeof(float)';
    return `memcpy(OUT[${i}], ${c.ptr}, ${size} * (${numelExpr(c.dims)}));`;
  });
  const source = `${KERNELS_C}
#include <stdio.h>
static void* IN[${Math.max(1, graph.inputs.length)}];
static void* OUT[${Math.max(1, graph.outputs.length)}];
static float* W[${Math.max(1, weights.length)}];
static rs_matrix M[${Math.max(1, weights.length)}];
static float* V[${Math.max(1, buffers.length)}];
static int64_t rs_batch = -1;
static int rs_err;

RS_EXPORT void rs_set_threads(int n) { if (n > 0) omp_set_num_threads(n); }
RS_EXPORT const char* rs_error_message(void) { return rs_message; }
RS_EXPORT void rs_bind_input(int i, void* p) { IN[i] = p; }
RS_EXPORT void rs_bind_output(int i, void* p) { OUT[i] = p; }

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
  .map((w) => `  total += (int64_t)sizeof(float) * (${numelExpr(values.get(w.name)!.dims)});`)
  .join('\n')}
  return total;
}

static void rs_resize(int64_t B) {
${buffers.map((n, i) => `  free(V[${i}]); V[${i}] = rs_alloc(sizeof(float) * (size_t)(${n} > 0 ? ${n} : 1));`).join('\n')}
  rs_batch = B;
}

/* Frees everything the library holds: buffers, weights, quantized inputs. */
RS_EXPORT void rs_free(void) {
  for (int i = 0; i < ${buffers.length}; i++) { free(V[i]); V[i] = NULL; }
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
  rs_batch = -1;
}

/* One call of the graph for B streams; 0, or 1 with rs_error_message() set. */
RS_EXPORT int rs_run(int64_t B) {
  if (B != rs_batch) rs_resize(B);
  rs_err = 0;
  rs_message[0] = 0;
#pragma omp parallel
  {
${blocks.join('\n')}
  }
${outputs.join('\n')}
  return rs_err;
}
`;
  return { source, weights, inputs: graph.inputs, outputs: graph.outputs, buffers: buffers.length };
}
