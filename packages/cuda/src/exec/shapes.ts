import { type Graph, type Node, ShapeMismatchError, type Value } from '@rwkv-streams/core';

/**
 * Concrete shapes of every value of a graph for one call: the graph's shapes carry
 * symbolic dims ('batch', 'time', 'time-1'...), the call binds them. Computed op by op
 * with each op's semantics (the same rules the builder used symbolically), so the
 * planner knows every buffer's size before anything runs.
 */

/** Concrete dims by value name. */
export type ShapeMap = Map<string, readonly number[]>;

function fail(node: Node, message: string): never {
  throw new ShapeMismatchError(`${node.op} (${node.outputs[0]?.name}): ${message}`, {
    field: node.outputs[0]?.name ?? node.op,
  });
}

function broadcast(node: Node, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) fail(node, `cannot broadcast [${a}] with [${b}]`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

function clampIndex(i: number, d: number): number {
  return i < 0 ? Math.max(0, d + i) : Math.min(i, d);
}

/** [start, length] of a Slice node along its axis for an input dim d. */
export function sliceRange(node: Node, d: number): [number, number] {
  const s = clampIndex(node.attrs['start'] as number, d);
  const e = clampIndex(node.attrs['end'] as number, d);
  return [s, Math.max(0, e - s)];
}

/** The start of a SliceFrom node for an input dim d, clamped as ONNX Slice clamps it. */
export function sliceFromStart(start: number, d: number): number {
  return clampIndex(start, d);
}

/** Output dims of one node, given its inputs' dims and the host values of int inputs. */
export function nodeShapes(
  node: Node,
  ins: readonly (readonly number[])[],
  scalars: ReadonlyMap<string, number>,
): number[][] {
  const x = ins[0] ?? [];
  const a = node.attrs;
  switch (node.op) {
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Max':
      return [broadcast(node, x, ins[1]!)];
    case 'Exp':
    case 'Neg':
    case 'Sqrt':
    case 'Sigmoid':
    case 'Tanh':
    case 'Relu':
    case 'Softplus':
    case 'Identity':
    case 'Cast':
    case 'LayerNorm':
      return [[...x]];
    case 'Linear': {
      const w = ins[1]!;
      if (x[x.length - 1] !== w[1]) fail(node, `input [${x}] does not match weight [${w}]`);
      return [[...x.slice(0, -1), w[0]!]];
    }
    case 'MatMul': {
      const b = ins[1]!;
      if (x[x.length - 1] !== b[b.length - 2]) fail(node, `inner dims of [${x}] and [${b}] differ`);
      return [[...broadcast(node, x.slice(0, -2), b.slice(0, -2)), x[x.length - 2]!, b[b.length - 1]!]];
    }
    case 'Gather':
      return [[...ins[1]!, ...x.slice(1)]];
    case 'Reshape': {
      const spec = a['shape'] as readonly number[];
      const out = spec.map((d, i) => (d === 0 ? x[i]! : d));
      const total = x.reduce((p, d) => p * d, 1);
      const known = out.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
      const free = out.indexOf(-1);
      if (free >= 0) {
        if (known === 0 || total % known !== 0) fail(node, `cannot reshape [${x}] to [${spec}]`);
        out[free] = total / known;
      } else if (known !== total) fail(node, `cannot reshape [${x}] (${total} values) to [${out}]`);
      return [out];
    }
    case 'Transpose':
      return [(a['perm'] as readonly number[]).map((p) => x[p]!)];
    case 'Squeeze': {
      const ax = a['axis'] as number;
      if (x[ax] !== 1) fail(node, `axis ${ax} of [${x}] is not 1`);
      return [x.filter((_, i) => i !== ax)];
    }
    case 'Concat': {
      const ax = a['axis'] as number;
      const out = [...x];
      out[ax] = ins.reduce((s, d) => s + d[ax]!, 0);
      for (const d of ins)
        if (d.length !== x.length || d.some((v, i) => i !== ax && v !== x[i]))
          fail(node, `inputs [${ins.map((s) => `[${s}]`).join(', ')}] differ off axis ${ax}`);
      return [out];
    }
    case 'Slice': {
      const ax = a['axis'] as number;
      const out = [...x];
      out[ax] = sliceRange(node, x[ax]!)[1];
      return [out];
    }
    case 'SliceFrom': {
      const ax = a['axis'] as number;
      const start = scalars.get(node.inputs[1]!.name);
      if (start === undefined) fail(node, `its start '${node.inputs[1]!.name}' must be a graph input`);
      const out = [...x];
      out[ax] = x[ax]! - sliceFromStart(start, x[ax]!);
      return [out];
    }
    case 'ReduceSum': {
      const axes = a['axes'] as readonly number[];
      const keep = a['keepdims'] === 1;
      const out: number[] = [];
      x.forEach((d, i) => {
        if (!axes.includes(i)) out.push(d);
        else if (keep) out.push(1);
      });
      return [out];
    }
    case 'BiWkv4':
    case 'BiWkv6':
    case 'QShift':
      return [[...x]];
    case 'Wkv4':
      return [[...x], [...ins[4]!], [...ins[4]!], [...ins[4]!]];
    case 'Wkv5':
      return [[...x], [...ins[5]!]];
    case 'Wkv7':
      return [[...x], [...ins[6]!]];
  }
}

/**
 * Every value's concrete dims for inputs of `inputDims`. `scalars` holds the host values
 * of int32 [1] inputs that decide shapes (SliceFrom's start). Checks that the inputs
 * agree with the graph's fixed dims and bind each symbolic dim consistently.
 */
export function inferShapes(
  graph: Graph,
  inputDims: ReadonlyMap<string, readonly number[]>,
  scalars: ReadonlyMap<string, number>,
): ShapeMap {
  const shapes: ShapeMap = new Map();
  const bound = new Map<string, number>();
  for (const v of graph.inputs) {
    const dims = inputDims.get(v.name);
    if (!dims) throw new ShapeMismatchError(`missing input '${v.name}'`, { field: v.name });
    checkInput(v, dims, bound);
    shapes.set(v.name, dims);
  }
  for (const [name, init] of graph.initializers) shapes.set(name, init.value.shape as number[]);
  for (const node of graph.nodes) {
    const ins = node.inputs.map((v) => {
      const s = shapes.get(v.name);
      if (!s)
        throw new ShapeMismatchError(`value '${v.name}' is used before it is computed`, { field: v.name });
      return s;
    });
    const outs = nodeShapes(node, ins, scalars);
    node.outputs.forEach((o, i) => {
      shapes.set(o.name, outs[i]!);
    });
  }
  return shapes;
}

function checkInput(v: Value, dims: readonly number[], bound: Map<string, number>): void {
  const bad = () =>
    new ShapeMismatchError(`input '${v.name}' has dims [${dims}], the graph expects [${v.shape}]`, {
      field: v.name,
    });
  if (dims.length !== v.shape.length) throw bad();
  v.shape.forEach((d, i) => {
    const got = dims[i]!;
    if (typeof d === 'number') {
      if (d !== got) throw bad();
      return;
    }
    const prev = bound.get(d);
    if (prev !== undefined && prev !== got)
      throw new ShapeMismatchError(
        `input '${v.name}' binds '${d}' to ${got}, another input bound it to ${prev}`,
        {
          field: v.name,
        },
      );
    bound.set(d, got);
  });
}
