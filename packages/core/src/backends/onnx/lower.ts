import { BadInputError, ShapeMismatchError } from '../../errors.js';
import type { Dim, DType, Graph, Node, Value } from '../../graph/ir.js';
import { ConstPool, OnnxEmitter } from './emitter.js';
import { expandBiWkv4 } from './expand/bi-wkv4.js';
import { expandBiWkv6 } from './expand/bi-wkv6.js';
import { expandQShift } from './expand/q-shift.js';
import { expandWkv4 } from './expand/wkv4.js';
import { expandWkv5 } from './expand/wkv5.js';
import { expandWkv7, expandWkv7Step } from './expand/wkv7.js';
import { expandWkv7Chunked } from './expand/wkv7-chunked.js';
import { type ExternalData, externalizeInitializers } from './external-weights.js';
import { emitFusion, planFusions } from './fuse.js';
import { ModelProto, OnnxDataType, type OnnxGraph, type OnnxValueInfo } from './onnx-schema.js';
import { simplifyNodes } from './peephole.js';
import { type NBitsQuantization, quantizeNBits } from './quantize-nbits.js';

/** ONNX opset and IR version the lowering targets (LayerNormalization needs opset 17). */
export const ONNX_OPSET = 17;
const IR_VERSION = 8;

/** Options of the ONNX lowering. */
export interface LowerOptions {
  /** Storage type of weights in the model (compute stays float32). Default float32. */
  readonly weightDType?: 'float32' | 'float16';
  /**
   * Block-quantize `Linear` weights (projections, heads, and RWKV-6/7's LoRAs, which the
   * blocks write as `Linear`) and run them with onnxruntime's MatMulNBits (com.microsoft).
   * Other weights (embeddings, norms, mixes, decays) are unaffected.
   */
  readonly quantization?: LinearQuantization;
  /**
   * Use what onnxruntime's CPU kernels accept beyond standard ONNX where it saves nodes
   * (see `planFusions`: a group norm's per-head scale and bias broadcast by
   * LayerNormalization). Default false (standard ONNX only); the onnxruntime backend sets
   * it for device 'cpu'.
   */
  readonly cpuFusions?: boolean;
  /**
   * Write the large initializers to a weights file beside the model instead of into the
   * serialized model (`external-weights.ts` says why); the model is then loaded from a
   * file path, not from its bytes.
   */
  readonly externalData?: ExternalData;
}

/** How `Linear` weights are quantized. */
export interface LinearQuantization extends NBitsQuantization {
  /**
   * MatMulNBits accuracy_level: 0 = default, 1 = fp32 activations, 4 = int8
   * activations (fastest on CPUs with int8 dot products). Default 4.
   */
  readonly accuracyLevel?: 0 | 1 | 2 | 3 | 4;
}

/** The contrib-op domain of MatMulNBits. */
const MS_DOMAIN = 'com.microsoft';

/** Lowers an IR graph to a serialized ONNX model. Named ops are expanded into standard ops. */
export function lowerToOnnx(graph: Graph, options: LowerOptions = {}): Uint8Array {
  const pool = new ConstPool();
  const em = new OnnxEmitter(pool);
  const linear = prepareWeights([graph], pool, em, options);
  lowerNodes(
    em,
    graph.nodes,
    linear,
    (name) => name,
    graph.outputs.map((v) => v.name),
  );
  simplifyNodes(
    em.nodes,
    graph.outputs.map((v) => v.name),
    pool,
  );
  return encodeModel(graph.name, em, pool, linear, graph.inputs, graph.outputs, options.externalData);
}

/**
 * Lowers two graphs with the same outputs and weights into ONE model that holds the weights
 * once: an ONNX `If` runs `whenTimeIs1` when the time axis (axis 1) of input `timeInput`
 * has size 1 and `otherwise` else. This serves a model's recurrent (decode) and sequence
 * (prefill) graphs from one onnxruntime session, so the weights are in memory once. The
 * WebGPU layout; on the CPU `lowerToOnnxStepFirst` decodes faster.
 */
export function lowerToOnnxByTime(
  whenTimeIs1: Graph,
  otherwise: Graph,
  timeInput: string,
  options: LowerOptions = {},
): Uint8Array {
  const pool = new ConstPool();
  const em = new OnnxEmitter(pool);
  const linear = prepareWeights([whenTimeIs1, otherwise], pool, em, options);
  const time = em.op1('Shape', [timeInput], { start: 1, end: 2 });
  const isOne = em.op1('Equal', [time, pool.int64([1])]);
  const outputs = otherwise.outputs;
  const branch = (graph: Graph, prefix: string): OnnxGraph => {
    const outer = new Set([...graph.inputs.map((v) => v.name), ...graph.initializers.keys()]);
    const rename = (name: string) => (outer.has(name) ? name : `${prefix}${name}`);
    const body = lowerSubgraphNodes(pool, graph, linear, rename);
    const byName = new Map(graph.outputs.map((v) => [v.name, v]));
    return {
      name: `${graph.name}_branch`,
      node: body.nodes,
      initializer: [],
      input: [],
      output: outputs.map((v) => {
        const own = byName.get(v.name);
        if (!own)
          throw new BadInputError(`graph '${graph.name}' has no output '${v.name}'`, { field: v.name });
        return { ...valueInfo(own), name: rename(v.name) };
      }),
    };
  };
  em.op(
    'If',
    [isOne],
    { then_branch: branch(whenTimeIs1, 'step/'), else_branch: branch(otherwise, 'seq/') },
    outputs.map((v) => v.name),
  );
  const inputs = new Map<string, Value>();
  for (const v of [...whenTimeIs1.inputs, ...otherwise.inputs]) inputs.set(v.name, v);
  return encodeModel(otherwise.name, em, pool, linear, [...inputs.values()], outputs, options.externalData);
}

/**
 * Prefix of the sequence graph's copies of the inputs both graphs read, and of its outputs,
 * in a step-first model (see `lowerToOnnxStepFirst`).
 */
export const SEQUENCE_PREFIX = 'sequence/';

/**
 * Lowers a model's recurrent graph (`step`, time axis statically 1) and its sequence graph
 * into ONE model that holds the weights once, with the step graph at the top level and the
 * sequence graph inside an `If` that runs only when its tokens are not empty:
 *
 * - inputs: the step graph's by their names; the sequence graph's own (say `logits_from`)
 *   by theirs; and the sequence graph's copies of those both read (tokens, state) prefixed
 *   `sequence/` (its tokens [B, T], T = 0 to skip it);
 * - outputs: the step graph's by their names, the sequence graph's prefixed `sequence/`
 *   (empty tensors when it was skipped).
 *
 * So a decode call runs the step as a graph of its own (no subgraph around it: onnxruntime
 * hands its outputs straight to the caller) and takes the `If`'s empty branch, the
 * sequence inputs bound to the same tensors; a sequence call feeds the step a batch of
 * zero streams (about 0.8 ms of empty nodes on RWKV-7 12 x 768) and the sequence its
 * inputs. Measured on RWKV-7 12 x 768 int4, 2 threads, fresh processes alternating: a
 * decode token took 0.90x the time of the same step graph inside an `If` (11 of 12 rounds
 * faster; `lowerToOnnxByTime` is that layout).
 */
export function lowerToOnnxStepFirst(
  step: Graph,
  sequence: Graph,
  timeInput: string,
  options: LowerOptions = {},
): Uint8Array {
  const pool = new ConstPool();
  const em = new OnnxEmitter(pool);
  const linear = prepareWeights([step, sequence], pool, em, options);
  lowerNodes(
    em,
    step.nodes,
    linear,
    (name) => name,
    step.outputs.map((v) => v.name),
  );
  const shared = new Set(step.inputs.map((v) => v.name));
  const outer = new Set([...sequence.inputs.map((v) => v.name), ...sequence.initializers.keys()]);
  // Inside the branch: inputs both graphs read come from their `sequence/` copies, other
  // outer names stay, the branch's own values get a prefix no outer name has.
  const rename = (name: string) =>
    shared.has(name) ? `${SEQUENCE_PREFIX}${name}` : outer.has(name) ? name : `seq_body/${name}`;
  const body = lowerSubgraphNodes(pool, sequence, linear, rename);
  const branchOutputs = (names: readonly string[]) =>
    sequence.outputs.map((v, i) => ({ ...valueInfo(v), name: names[i]!, type: anyShape(v) }));
  const ran: OnnxGraph = {
    name: `${sequence.name}_branch`,
    node: body.nodes,
    initializer: [],
    input: [],
    output: branchOutputs(sequence.outputs.map((v) => rename(v.name))),
  };
  // The skipped branch: every output an empty float tensor of the output's rank (Identity of
  // a 0-element constant; onnxruntime warns on every call when a rank differs from the model's).
  const skippedNames = sequence.outputs.map((v) => `skipped/${v.name}`);
  const skipped: OnnxGraph = {
    name: `${sequence.name}_skipped`,
    node: skippedNames.map((name, i) => ({
      input: [
        pool.float(
          [],
          sequence.outputs[i]!.shape.map(() => 0),
        ),
      ],
      output: [name],
      name: `skipped_${i}`,
      opType: 'Identity',
      attribute: [],
    })),
    initializer: [],
    input: [],
    output: branchOutputs(skippedNames),
  };
  const time = em.op1('Shape', [`${SEQUENCE_PREFIX}${timeInput}`], { start: 1, end: 2 });
  const any = em.op1('Greater', [time, pool.int64([0])]);
  const outputs = sequence.outputs.map((v) => `${SEQUENCE_PREFIX}${v.name}`);
  em.op('If', [any], { then_branch: ran, else_branch: skipped }, outputs);
  simplifyNodes(em.nodes, [...step.outputs.map((v) => v.name), ...outputs], pool);
  const inputs: Value[] = [...step.inputs];
  for (const v of sequence.inputs)
    inputs.push(shared.has(v.name) ? { ...v, name: `${SEQUENCE_PREFIX}${v.name}` } : v);
  const outputValues = [
    ...step.outputs,
    // open dims, one name each (a skipped sequence gives empty tensors)
    ...sequence.outputs.map((v, i) => ({
      ...v,
      name: outputs[i]!,
      shape: v.shape.map((_, j) => `sequence_out${i}_${j}`),
    })),
  ];
  return encodeModel(step.name, em, pool, linear, inputs, outputValues, options.externalData);
}

/** A graph's nodes lowered for a subgraph (an If branch): its names through `rename`, simplified. */
function lowerSubgraphNodes(
  pool: ConstPool,
  graph: Graph,
  linear: LinearLowering,
  rename: (name: string) => string,
): OnnxEmitter {
  const body = new OnnxEmitter(pool);
  lowerNodes(
    body,
    graph.nodes,
    linear,
    rename,
    graph.outputs.map((v) => v.name),
  );
  simplifyNodes(
    body.nodes,
    graph.outputs.map((v) => rename(v.name)),
    pool,
  );
  return body;
}

/** A value's type with every dimension left open (a branch output may be empty). */
function anyShape(v: Value): OnnxValueInfo['type'] {
  return { tensorType: { elemType: onnxType(v.dtype) } };
}

/**
 * Adds every weight of the graphs once (they share names) and decides per weight how
 * `Linear` consumes it: block-quantized for MatMulNBits, or transposed for MatMul.
 */
function prepareWeights(
  graphs: readonly Graph[],
  pool: ConstPool,
  em: OnnxEmitter,
  options: LowerOptions,
): LinearLowering {
  const weightDType = options.weightDType ?? 'float32';
  const transposed = new Set<string>();
  const quantized = new Map<string, { n: number; k: number; inputs: string[] }>();
  const q = options.quantization;
  const consumers = new Map<string, Node[]>();
  for (const graph of graphs) {
    for (const node of graph.nodes) {
      for (const input of node.inputs) {
        if (graph.initializers.has(input.name))
          consumers.set(input.name, [...(consumers.get(input.name) ?? []), node]);
      }
    }
  }
  const seen = new Set<string>();
  for (const graph of graphs) {
    for (const [name, init] of graph.initializers) {
      if (seen.has(name)) continue;
      seen.add(name);
      const used = consumers.get(name) ?? [];
      const onlyLinear =
        used.length > 0 && used.every((n) => n.op === 'Linear' && n.inputs[1]!.name === name);
      if (onlyLinear && init.tensor.shape.length === 2 && q) {
        const [n, k] = init.tensor.shape as [number, number];
        const w = quantizeNBits(init.tensor.data, n, k, q);
        const blob = (q.blockSize * q.bits) / 8;
        pool.addRaw(`${name}__q`, [n, w.kBlocks, blob], OnnxDataType.UINT8, w.packed);
        pool.addRaw(`${name}__scales`, [n * w.kBlocks], OnnxDataType.FLOAT, new Uint8Array(w.scales.buffer));
        pool.addRaw(`${name}__zp`, [w.zeroPoints.length], OnnxDataType.UINT8, w.zeroPoints);
        quantized.set(name, { n, k, inputs: [`${name}__q`, `${name}__scales`, `${name}__zp`] });
      } else if (onlyLinear && init.tensor.shape.length === 2) {
        // Linear weights are stored [in, out] so MatMul consumes them without a Transpose.
        const [out, inn] = init.tensor.shape as [number, number];
        const t = new Float32Array(out * inn);
        const src = init.tensor.data;
        for (let o = 0; o < out; o++) for (let i = 0; i < inn; i++) t[i * out + o] = src[o * inn + i]!;
        addStored(pool, em, name, [inn, out], t, weightDType);
        transposed.add(name);
      } else {
        const dtype = init.tensor.shape.length >= 2 ? weightDType : 'float32';
        addStored(pool, em, name, init.tensor.shape, init.tensor.data, dtype);
      }
    }
  }
  return {
    transposed,
    quantized,
    cpuFusions: options.cpuFusions ?? false,
    accuracyLevel: q?.accuracyLevel ?? 4,
    bits: q?.bits ?? 8,
    blockSize: q?.blockSize ?? 32,
  };
}

function lowerNodes(
  em: OnnxEmitter,
  nodes: readonly Node[],
  linear: LinearLowering,
  rename: (name: string) => string,
  outputs: readonly string[],
): void {
  const fused = planFusions(nodes, outputs, linear.cpuFusions);
  for (const node of nodes) {
    const f = fused.get(node);
    if (f === 'done') continue;
    if (f) emitFusion(em, f, rename);
    else lowerNode(em, node, linear, rename);
  }
}

function encodeModel(
  name: string,
  em: OnnxEmitter,
  pool: ConstPool,
  linear: LinearLowering,
  inputs: readonly Value[],
  outputs: readonly Value[],
  external?: ExternalData,
): Uint8Array {
  const initializer = external ? externalizeInitializers(pool.initializers, external) : pool.initializers;
  const model = ModelProto.fromObject({
    irVersion: IR_VERSION,
    producerName: 'rwkv-streams',
    producerVersion: '0.1.0',
    opsetImport: [
      { domain: '', version: ONNX_OPSET },
      ...(linear.quantized.size > 0 ? [{ domain: MS_DOMAIN, version: 1 }] : []),
    ],
    graph: {
      name,
      node: em.nodes,
      initializer,
      input: inputs.map(valueInfo),
      output: outputs.map(valueInfo),
    },
  });
  return ModelProto.encode(model).finish();
}

function addStored(
  pool: ConstPool,
  em: OnnxEmitter,
  name: string,
  dims: readonly number[],
  data: Float32Array,
  dtype: 'float32' | 'float16',
): void {
  if (dtype === 'float32') {
    pool.addWeight(name, dims, data, 'float32');
    return;
  }
  // Stored as float16, cast once; onnxruntime folds the Cast at session creation.
  const stored = `${name}__f16`;
  pool.addWeight(stored, dims, data, 'float16');
  em.op1('Cast', [stored], { to: OnnxDataType.FLOAT }, name);
}

/** What the lowering decided for each Linear weight. */
interface LinearLowering {
  /** LowerOptions.cpuFusions. */
  readonly cpuFusions: boolean;
  readonly transposed: ReadonlySet<string>;
  readonly quantized: ReadonlyMap<string, { n: number; k: number; inputs: string[] }>;
  readonly accuracyLevel: number;
  readonly bits: number;
  readonly blockSize: number;
}

function lowerNode(
  em: OnnxEmitter,
  node: Node,
  linear: LinearLowering,
  rename: (name: string) => string,
): void {
  const ins = node.inputs.map((v) => rename(v.name));
  const outs = node.outputs.map((v) => rename(v.name));
  const out = outs[0]!;
  const a = node.attrs;
  switch (node.op) {
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Max':
    case 'Exp':
    case 'Neg':
    case 'Sqrt':
    case 'Sigmoid':
    case 'Tanh':
    case 'Relu':
    case 'Softplus':
    case 'Identity':
      em.op1(node.op, ins, {}, out);
      return;
    case 'MatMul':
      lowerMatMul(em, node, ins, out);
      return;
    case 'Linear': {
      const q = linear.quantized.get(ins[1]!);
      if (q) {
        const attrs = {
          K: q.k,
          N: q.n,
          bits: linear.bits,
          block_size: linear.blockSize,
          accuracy_level: linear.accuracyLevel,
        };
        em.op('MatMulNBits', [ins[0]!, ...q.inputs], attrs, [out], MS_DOMAIN);
        return;
      }
      const w = linear.transposed.has(ins[1]!) ? ins[1]! : em.op1('Transpose', [ins[1]!], { perm: [1, 0] });
      em.op1('MatMul', [ins[0]!, w], {}, out);
      return;
    }
    case 'Gather':
      em.op1('Gather', ins, { axis: 0 }, out);
      return;
    case 'LayerNorm': {
      const x = node.inputs[0]!;
      let scale = ins[1];
      let bias = ins[2];
      if (a['affine'] === 0) {
        const c = lastDim(x);
        scale = em.pool.float(new Array<number>(c).fill(1), [c]);
        bias = em.pool.float(new Array<number>(c).fill(0), [c]);
      }
      em.op1(
        'LayerNormalization',
        [ins[0]!, scale!, bias!],
        { axis: -1, epsilon: { float: a['epsilon'] as number } },
        out,
      );
      return;
    }
    case 'Reshape':
      em.op1('Reshape', [ins[0]!, em.pool.int64(a['shape'] as number[])], {}, out);
      return;
    case 'Transpose':
      em.op1('Transpose', ins, { perm: a['perm'] as number[] }, out);
      return;
    case 'Concat':
      em.op1('Concat', ins, { axis: a['axis'] as number }, out);
      return;
    case 'Slice': {
      const p = em.pool;
      const end = a['end'] as number;
      em.op1(
        'Slice',
        [ins[0]!, p.int64([a['start'] as number]), p.int64([end]), p.int64([a['axis'] as number])],
        {},
        out,
      );
      return;
    }
    case 'Squeeze':
      em.squeeze(ins[0]!, [a['axis'] as number], out);
      return;
    case 'SliceFrom': {
      const p = em.pool;
      const start = em.op1('Cast', [ins[1]!], { to: OnnxDataType.INT64 });
      em.op1('Slice', [ins[0]!, start, p.int64([2 ** 31 - 1]), p.int64([a['axis'] as number])], {}, out);
      return;
    }
    case 'ReduceSum':
      em.op1(
        'ReduceSum',
        [ins[0]!, em.pool.int64(a['axes'] as number[])],
        { keepdims: a['keepdims'] as number },
        out,
      );
      return;
    case 'Cast':
      em.op1('Cast', ins, { to: onnxType(a['to'] as DType) }, out);
      return;
    case 'BiWkv4':
      expandBiWkv4(em, ins, outs);
      return;
    case 'BiWkv6':
      expandBiWkv6(em, ins, outs);
      return;
    case 'QShift': {
      const [, T, C] = node.inputs[0]!.shape;
      if (typeof T !== 'number' || typeof C !== 'number')
        throw new ShapeMismatchError(`QShift of ${node.inputs[0]!.name} needs fixed tokens and channels`, {
          field: node.inputs[0]!.name,
        });
      expandQShift(em, ins, outs, T, C, a);
      return;
    }
    case 'Wkv4':
      expandWkv4(em, ins, outs, staticT1(node.inputs[0]!));
      return;
    case 'Wkv5':
      expandWkv5(em, ins, outs, staticT1(node.inputs[0]!), node.inputs[3]!.shape.length === 4);
      return;
    case 'Wkv7':
      if (staticT1(node.inputs[0]!)) {
        const [, , H, N] = node.inputs[0]!.shape;
        if (typeof H === 'number' && typeof N === 'number') expandWkv7Step(em, ins, outs, H, N);
        else expandWkv7(em, ins, outs, true);
      } else expandWkv7Chunked(em, ins, outs);
      return;
  }
}

/**
 * MatMul. When the right operand's trailing batch dims are all 1 where the left's are not
 * (a weight [G, 1, K, N] against activations [G, B, T, K]: RWKV-6's ddlerp), the left's
 * broadcast dims and rows are merged into one row dim, [G, B * T, K] x [G, K, N], and the
 * result reshaped back: onnxruntime 1.30's MatMul refuses to broadcast a 1 against a
 * dimension of size 0 ("left operand cannot broadcast"), and a model's step graph must run
 * on zero streams (`lowerToOnnxStepFirst`). The same products either way.
 */
function lowerMatMul(em: OnnxEmitter, node: Node, ins: readonly string[], out: string): void {
  const [a, b] = node.inputs as [Value, Value];
  const r = a.shape.length;
  let first = r - 2; // the first of the right's trailing batch dims that are all 1
  while (first > 0 && b.shape[first - 1] === 1 && a.shape[first - 1] !== 1) first--;
  const [K, N] = [b.shape[r - 2], b.shape[r - 1]];
  const merges =
    b.shape.length === r &&
    first < r - 2 &&
    typeof K === 'number' &&
    typeof N === 'number' &&
    a.shape.slice(0, first).every((d, i) => d === b.shape[i]);
  if (!merges) {
    em.op1('MatMul', [...ins], {}, out);
    return;
  }
  const p = em.pool;
  const keep = new Array<number>(first).fill(0);
  const rows = em.op1('Reshape', [ins[0]!, p.int64([...keep, -1, K])]);
  const weight = em.op1('Reshape', [ins[1]!, p.int64([...keep, K, N])]);
  const product = em.op1('MatMul', [rows, weight]);
  const shape = em.op1('Concat', [em.op1('Shape', [ins[0]!], { start: 0, end: -1 }), p.int64([N])], {
    axis: 0,
  });
  em.op1('Reshape', [product, shape], {}, out);
}

function staticT1(v: Value): boolean {
  return v.shape[1] === 1;
}

function lastDim(v: Value): number {
  const d = v.shape[v.shape.length - 1];
  if (typeof d !== 'number')
    throw new BadInputError(`LayerNorm without affine needs a static last dim on '${v.name}'`);
  return d;
}

function onnxType(t: DType): number {
  return t === 'float32' ? OnnxDataType.FLOAT : t === 'float16' ? OnnxDataType.FLOAT16 : OnnxDataType.INT32;
}

function valueInfo(v: Value): OnnxValueInfo {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: onnxType(v.dtype),
        shape: { dim: v.shape.map((d: Dim) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}
