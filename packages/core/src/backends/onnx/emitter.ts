import { encodeFloat16 } from '../../tensor/float16.js';
import {
  type OnnxAttribute,
  OnnxAttrType,
  OnnxDataType,
  type OnnxGraph,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
} from './onnx-schema.js';

/** An attribute value as the emitter takes it; numbers are ints unless wrapped by `float`. */
export type EmitAttr = number | { float: number } | readonly number[] | OnnxGraph | string;

/**
 * Constants shared by a model's main graph and its Scan bodies (subgraphs may read
 * outer-scope initializers), plus a name counter so generated names never clash.
 */
export class ConstPool {
  readonly initializers: OnnxTensor[] = [];
  private readonly cache = new Map<string, string>();
  private readonly int64s = new Map<string, number[]>();
  private counter = 0;

  /** A fresh value name with the given hint. */
  fresh(hint: string): string {
    return `${hint}__${this.counter++}`;
  }

  /** An int64 tensor constant (shapes, axes, slice bounds). */
  int64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    const name = this.cached(key, () => {
      const data = new BigInt64Array(values.map((v) => BigInt(v)));
      return { dataType: OnnxDataType.INT64, dims: [...dims], rawData: new Uint8Array(data.buffer) };
    });
    this.int64s.set(name, [...values]);
    return name;
  }

  /** The values of an int64 constant made by `int64`, or undefined for any other name. */
  int64Values(name: string): readonly number[] | undefined {
    return this.int64s.get(name);
  }

  /** A float32 tensor constant. */
  float(values: readonly number[], dims: readonly number[]): string {
    const key = `f32:${dims.join('x')}:${values.join(',')}`;
    return this.cached(key, () => {
      const data = Float32Array.from(values);
      return { dataType: OnnxDataType.FLOAT, dims: [...dims], rawData: new Uint8Array(data.buffer) };
    });
  }

  /** Adds a named weight tensor stored as float32 or float16. */
  addWeight(name: string, dims: readonly number[], data: Float32Array, dtype: 'float32' | 'float16'): void {
    const raw = dtype === 'float16' ? encodeFloat16(data) : data;
    this.initializers.push({
      name,
      dataType: dtype === 'float16' ? OnnxDataType.FLOAT16 : OnnxDataType.FLOAT,
      dims: [...dims],
      rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength),
    });
  }

  /** Adds a named tensor from raw little-endian bytes of an ONNX data type. */
  addRaw(name: string, dims: readonly number[], dataType: number, bytes: Uint8Array): void {
    this.initializers.push({ name, dataType, dims: [...dims], rawData: bytes });
  }

  private cached(key: string, make: () => Omit<OnnxTensor, 'name'>): string {
    const hit = this.cache.get(key);
    if (hit) return hit;
    const name = this.fresh('const');
    this.initializers.push({ name, ...make() });
    this.cache.set(key, name);
    return name;
  }
}

/** Appends ONNX nodes to one graph (the main graph or a Scan body). */
export class OnnxEmitter {
  readonly nodes: OnnxNode[] = [];

  constructor(readonly pool: ConstPool) {}

  /** Emits `opType` and returns its output names (fresh unless given). */
  op(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, EmitAttr> = {},
    outputs: number | readonly string[] = 1,
    domain?: string,
  ): string[] {
    const outs =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.pool.fresh(opType.toLowerCase()))
        : [...outputs];
    this.nodes.push({
      input: [...inputs],
      output: outs,
      name: this.pool.fresh(`n_${opType}`),
      opType,
      ...(domain ? { domain } : {}),
      attribute: Object.entries(attrs).map(([name, v]) => toAttribute(name, v)),
    });
    return outs;
  }

  /** Single-output shorthand. */
  op1(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, EmitAttr> = {},
    output?: string,
  ): string {
    return this.op(opType, inputs, attrs, output === undefined ? 1 : [output])[0]!;
  }

  /**
   * Gives the value `from` (produced by a node of this emitter) the name `to` instead,
   * so a step's result can become a named graph output without an Identity copy.
   */
  renameOutput(from: string, to: string): void {
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i]!;
      const at = node.output.indexOf(from);
      if (at >= 0) {
        node.output[at] = to;
        for (const later of this.nodes.slice(i + 1))
          later.input = later.input.map((n) => (n === from ? to : n));
        return;
      }
    }
    this.op1('Identity', [from], {}, to);
  }

  /** A new emitter for a subgraph (Scan or If body) sharing this one's constants. */
  child(): OnnxEmitter {
    return new OnnxEmitter(this.pool);
  }

  /**
   * This emitter's nodes as a subgraph with float inputs and outputs. Body outputs must be
   * produced by body nodes, so an output that is one of the inputs is copied.
   */
  graph(name: string, inputs: readonly string[], outputs: readonly string[]): OnnxGraph {
    const produced = new Set(this.nodes.flatMap((n) => n.output));
    const own = outputs.map((o) => (produced.has(o) ? o : this.op1('Identity', [o])));
    const info = (n: string): OnnxValueInfo => ({
      name: n,
      type: { tensorType: { elemType: OnnxDataType.FLOAT } },
    });
    return {
      name: this.pool.fresh(name),
      node: this.nodes,
      initializer: [],
      input: inputs.map(info),
      output: own.map(info),
    };
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    return this.op1('Unsqueeze', [x, this.pool.int64(axes)]);
  }

  squeeze(x: string, axes: readonly number[], output?: string): string {
    return this.op1('Squeeze', [x, this.pool.int64(axes)], {}, output);
  }
}

function toAttribute(name: string, v: EmitAttr): OnnxAttribute {
  if (typeof v === 'number') return { name, type: OnnxAttrType.INT, i: v };
  if (typeof v === 'string') return { name, type: OnnxAttrType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: OnnxAttrType.INTS, ints: [...(v as readonly number[])] };
  if ('float' in (v as object)) return { name, type: OnnxAttrType.FLOAT, f: (v as { float: number }).float };
  return { name, type: OnnxAttrType.GRAPH, g: v as OnnxGraph };
}
