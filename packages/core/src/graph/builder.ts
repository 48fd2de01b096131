import { BadInputError, ShapeMismatchError } from '../errors.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import type { AttrValue, Dim, DType, Graph, Initializer, Node, OpName, Value } from './ir.js';
import { checkQShift, type QShiftAttrs } from './q-shift.js';
import { broadcastShapes, checkSame, dimEq } from './shapes.js';

/**
 * Builds a graph op by op, inferring each output's dtype and shape (symbolic dims
 * included) so that mistakes surface where a model is written, not in a backend.
 */
export class GraphBuilder {
  private readonly inputs: Value[] = [];
  private readonly outputs: Value[] = [];
  private readonly initializers = new Map<string, Initializer>();
  private readonly nodes: Node[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** Declares a graph input. */
  input(name: string, dtype: DType, shape: readonly Dim[]): Value {
    const v = this.newValue(name, dtype, shape);
    this.inputs.push(v);
    return v;
  }

  /** Declares `value` as a graph output called `name` (a copy is inserted if renamed). */
  output(name: string, value: Value): void {
    if (value.name === name) {
      this.outputs.push(value);
      return;
    }
    const [out] = this.emit('Identity', [value], [{ dtype: value.dtype, shape: value.shape }], {}, name);
    this.outputs.push(out!);
  }

  /** Adds a weight (stored as `dtype` by backends that honour it; float32 by default). */
  weight(name: string, tensor: HostTensor, dtype: DType = 'float32'): Value {
    const existing = this.initializers.get(name);
    if (existing) return existing.value;
    const value = this.newValue(name, dtype, tensor.shape);
    this.initializers.set(name, { value, tensor });
    return value;
  }

  /** A float32 constant (scalars and small vectors: epsilons, scales). */
  scalar(value: number): Value {
    const name = `const_${String(value).replace(/[^0-9a-zA-Z]/g, '_')}`;
    return this.weight(name, { shape: [], data: Float32Array.of(value), storedAs: 'float32' });
  }

  add(a: Value, b: Value): Value {
    return this.binary('Add', a, b);
  }
  sub(a: Value, b: Value): Value {
    return this.binary('Sub', a, b);
  }
  mul(a: Value, b: Value): Value {
    return this.binary('Mul', a, b);
  }
  div(a: Value, b: Value): Value {
    return this.binary('Div', a, b);
  }
  max(a: Value, b: Value): Value {
    return this.binary('Max', a, b);
  }
  exp(x: Value): Value {
    return this.unary('Exp', x);
  }
  neg(x: Value): Value {
    return this.unary('Neg', x);
  }
  sqrt(x: Value): Value {
    return this.unary('Sqrt', x);
  }
  sigmoid(x: Value): Value {
    return this.unary('Sigmoid', x);
  }
  tanh(x: Value): Value {
    return this.unary('Tanh', x);
  }
  relu(x: Value): Value {
    return this.unary('Relu', x);
  }
  softplus(x: Value): Value {
    return this.unary('Softplus', x);
  }

  /** Batched matrix product with numpy semantics: [..., m, k] x [..., k, n]. */
  matmul(a: Value, b: Value): Value {
    if (a.shape.length < 2 || b.shape.length < 2)
      throw this.shapeError('MatMul', 'operands need rank >= 2', a, b);
    const k1 = a.shape[a.shape.length - 1]!;
    const k2 = b.shape[b.shape.length - 2]!;
    if (!dimEq(k1, k2)) throw this.shapeError('MatMul', `inner dims ${k1} and ${k2} differ`, a, b);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'MatMul');
    const shape = [...batch, a.shape[a.shape.length - 2]!, b.shape[b.shape.length - 1]!];
    return this.emit('MatMul', [a, b], [{ dtype: a.dtype, shape }], {})[0]!;
  }

  /**
   * A linear layer without bias: x[..., in] times weight[out, in] transposed (PyTorch's
   * layout). Kept as one op so a backend can choose its own weight layout or
   * quantization.
   */
  linear(x: Value, weight: Value): Value {
    const [out, inn] = weight.shape;
    if (weight.shape.length !== 2 || !dimEq(x.shape[x.shape.length - 1]!, inn!)) {
      throw this.shapeError('Linear', `weight [out, in] must match input's last dim`, x, weight);
    }
    return this.emit(
      'Linear',
      [x, weight],
      [{ dtype: x.dtype, shape: [...x.shape.slice(0, -1), out!] }],
      {},
    )[0]!;
  }

  /** Rows of `table` [V, C] at int32 `indices` [...] -> [..., C]. */
  gather(table: Value, indices: Value): Value {
    if (indices.dtype !== 'int32')
      throw new BadInputError(`Gather indices must be int32, got ${indices.dtype}`);
    return this.emit(
      'Gather',
      [table, indices],
      [{ dtype: table.dtype, shape: [...indices.shape, ...table.shape.slice(1)] }],
      {},
    )[0]!;
  }

  /** Layer norm over the last axis, with optional affine weight and bias. */
  layerNorm(x: Value, weight: Value | null, bias: Value | null, epsilon: number): Value {
    const inputs = [x];
    if (weight) inputs.push(weight);
    if (bias) inputs.push(bias);
    return this.emit('LayerNorm', inputs, [{ dtype: x.dtype, shape: x.shape }], {
      epsilon,
      affine: weight ? 1 : 0,
    })[0]!;
  }

  /**
   * Reshape to `shape`. A symbolic dim at the same index as in the input is copied; one
   * other dim (symbolic, or a numeric -1) may be left to inference.
   */
  reshape(x: Value, shape: readonly Dim[]): Value {
    let inferred = shape.filter((d) => d === -1).length;
    const spec = shape.map((d, i) => {
      if (typeof d === 'number') return d;
      if (x.shape[i] === d) return 0;
      if (inferred++ > 0) throw this.shapeError('Reshape', `cannot infer more than one dim ('${d}')`, x);
      return -1;
    });
    return this.emit('Reshape', [x], [{ dtype: x.dtype, shape }], { shape: spec })[0]!;
  }

  transpose(x: Value, perm: readonly number[]): Value {
    if (perm.length !== x.shape.length) throw this.shapeError('Transpose', `perm ${perm} has wrong rank`, x);
    return this.emit('Transpose', [x], [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }], {
      perm,
    })[0]!;
  }

  concat(xs: readonly Value[], axis: number): Value {
    const first = xs[0]!;
    const ax = axis < 0 ? first.shape.length + axis : axis;
    let total: Dim = 0;
    for (const x of xs) {
      const d = x.shape[ax]!;
      total = typeof total === 'number' && typeof d === 'number' ? total + d : `${total}+${d}`;
    }
    const shape = first.shape.map((d, i) => (i === ax ? total : d));
    return this.emit('Concat', xs, [{ dtype: first.dtype, shape }], { axis: ax })[0]!;
  }

  /**
   * Slice [start, end) along `axis` (negative indices count from the end; end may be
   * past the end). `size` is the resulting length when it cannot be computed statically.
   */
  slice(x: Value, axis: number, start: number, end: number, size?: Dim): Value {
    const ax = axis < 0 ? x.shape.length + axis : axis;
    const d = x.shape[ax]!;
    let len: Dim;
    if (size !== undefined) len = size;
    else if (typeof d === 'number') {
      const s = start < 0 ? Math.max(0, d + start) : Math.min(start, d);
      const e = end < 0 ? Math.max(0, d + end) : Math.min(end, d);
      len = Math.max(0, e - s);
    } else if (start >= 0 && end >= 0) len = end - start;
    else throw this.shapeError('Slice', 'give `size` when slicing a symbolic dim from the end', x);
    const shape = x.shape.map((dim, i) => (i === ax ? len : dim));
    return this.emit('Slice', [x], [{ dtype: x.dtype, shape }], { axis: ax, start, end })[0]!;
  }

  /** Removes a size-1 axis. */
  squeeze(x: Value, axis: number): Value {
    const ax = axis < 0 ? x.shape.length + axis : axis;
    if (x.shape[ax] !== 1) throw this.shapeError('Squeeze', `axis ${ax} has size ${x.shape[ax]}, not 1`, x);
    return this.emit('Squeeze', [x], [{ dtype: x.dtype, shape: x.shape.filter((_, i) => i !== ax) }], {
      axis: ax,
    })[0]!;
  }

  /**
   * x[start:] along `axis`, with `start` an int32 [1] graph value known only at run time;
   * the result's length along `axis` is the symbolic dim `size`.
   */
  sliceFrom(x: Value, axis: number, start: Value, size: Dim): Value {
    if (start.dtype !== 'int32')
      throw new BadInputError(`SliceFrom start must be int32, got ${start.dtype}`, { field: start.name });
    const ax = axis < 0 ? x.shape.length + axis : axis;
    const shape = x.shape.map((d, i) => (i === ax ? size : d));
    return this.emit('SliceFrom', [x, start], [{ dtype: x.dtype, shape }], { axis: ax })[0]!;
  }

  reduceSum(x: Value, axes: readonly number[], keepDims: boolean): Value {
    const norm = axes.map((a) => (a < 0 ? x.shape.length + a : a));
    const shape: Dim[] = [];
    x.shape.forEach((d, i) => {
      if (!norm.includes(i)) shape.push(d);
      else if (keepDims) shape.push(1);
    });
    return this.emit('ReduceSum', [x], [{ dtype: x.dtype, shape }], {
      axes: norm,
      keepdims: keepDims ? 1 : 0,
    })[0]!;
  }

  cast(x: Value, dtype: DType): Value {
    return this.emit('Cast', [x], [{ dtype, shape: x.shape }], { to: dtype })[0]!;
  }

  /**
   * RWKV-4 WKV over time (numerically stable form). k, v: [B, T, C]; w (= -exp(decay)),
   * u (bonus): [C]; state aa, bb, pp: [B, C]. Per step t:
   *   y = (e^{pp-q} aa + e^{u+k-q} v) / (e^{pp-q} bb + e^{u+k-q}),  q = max(pp, u+k)
   *   q' = max(pp+w, k); aa' = e^{pp+w-q'} aa + e^{k-q'} v; bb' likewise with 1; pp' = q'.
   */
  wkv4(
    k: Value,
    v: Value,
    w: Value,
    u: Value,
    aa: Value,
    bb: Value,
    pp: Value,
  ): { y: Value; aa: Value; bb: Value; pp: Value } {
    checkSame('Wkv4', k, v);
    const st = { dtype: aa.dtype, shape: aa.shape };
    const [y, aa2, bb2, pp2] = this.emit(
      'Wkv4',
      [k, v, w, u, aa, bb, pp],
      [{ dtype: k.dtype, shape: k.shape }, st, st, st],
      {},
    );
    return { y: y!, aa: aa2!, bb: bb2!, pp: pp2! };
  }

  /**
   * RWKV-5.2/6 WKV. r, k, v: [B, T, H, N]; w (decay factor in (0,1)): [B, T, H, N] or
   * [H, N]; u (bonus): [H, N]; s: [B, H, N, N] indexed [key i, value j]. Per step:
   *   y[j] = sum_i r[i] (u[i] k[i] v[j] + s[i, j]);  s'[i, j] = k[i] v[j] + w[i] s[i, j].
   */
  wkv5(r: Value, k: Value, v: Value, w: Value, u: Value, s: Value): { y: Value; s: Value } {
    checkSame('Wkv5', r, k);
    checkSame('Wkv5', r, v);
    const [y, s2] = this.emit(
      'Wkv5',
      [r, k, v, w, u, s],
      [
        { dtype: r.dtype, shape: r.shape },
        { dtype: s.dtype, shape: s.shape },
      ],
      {},
    );
    return { y: y!, s: s2! };
  }

  /**
   * RWKV-7 WKV (generalized delta rule). r, w, k, v, a, b: [B, T, H, N]; s: [B, H, N, N]
   * indexed [value i, key j]. Per step:
   *   s' = s diag(w) + (s a) b^T + v k^T;  y = s' r.
   */
  wkv7(r: Value, w: Value, k: Value, v: Value, a: Value, b: Value, s: Value): { y: Value; s: Value } {
    for (const x of [w, k, v, a, b]) checkSame('Wkv7', r, x);
    const [y, s2] = this.emit(
      'Wkv7',
      [r, w, k, v, a, b, s],
      [
        { dtype: r.dtype, shape: r.shape },
        { dtype: s.dtype, shape: s.shape },
      ],
      {},
    );
    return { y: y!, s: s2! };
  }

  /**
   * Vision-RWKV's Q-Shift of x [B, rows * cols, C] (tokens on a patch grid): each channel
   * read from the neighbour `shift` patches away in the direction its rank gives (see
   * `QShiftAttrs`), zero off the grid. One op, so that backends move the data in one pass
   * (the ONNX lowering: one Gather of channel runs; CUDA: one kernel).
   */
  qShift(x: Value, attrs: QShiftAttrs): Value {
    if (x.shape.length !== 3)
      throw new ShapeMismatchError(`QShift: ${x.name}[${x.shape.join(', ')}] must be [B, T, C]`, {
        field: x.name,
      });
    checkQShift(x.shape[1]!, x.shape[2]!, attrs, x.name);
    const { rows, cols, group, shift, heads } = attrs;
    return this.emit('QShift', [x], [{ dtype: x.dtype, shape: x.shape }], {
      rows,
      cols,
      group,
      shift,
      heads,
    })[0]!;
  }

  /**
   * Vision-RWKV's bidirectional WKV (non-causal, no state): every position attends to
   * all others with a decay by distance. k, v: [B, T, C]; w (spatial decay), u (spatial
   * first): [C], divided by T inside the op as the official code does. With w' = w / T,
   * u' = u / T, per position t:
   *   y_t = (sum_{i != t} e^{k_i - (|t-i|-1) w'} v_i + e^{u' + k_t} v_t)
   *       / (sum_{i != t} e^{k_i - (|t-i|-1) w'} + e^{u' + k_t} + 1e-6 (relative to the largest term)).
   * Backends compute it in linear time (a forward and a backward scan).
   */
  biWkv4(k: Value, v: Value, w: Value, u: Value): Value {
    checkSame('BiWkv4', k, v);
    return this.emit('BiWkv4', [k, v, w, u], [{ dtype: k.dtype, shape: k.shape }], {})[0]!;
  }

  /**
   * Vision-RWKV 6's bidirectional WKV (VRWKV6; non-causal, no state, no 1/T scaling):
   * every position reads every other through the RWKV-6 matrix state, with the decays of
   * the positions strictly between them. r, k, v, w: [B, T, H, N]; w is the per-position
   * decay factor in (0, 1) (exp(-exp(time_decay + LoRA)), as the official code forms it);
   * u (time_faaaa, the bonus): [H, N]. Per head, with value index j and key index i:
   *   y_t[j] = sum_i r_t[i] (u[i] k_t[i] v_t[j]
   *          + sum_{s != t} (prod_{m strictly between s and t} w_m[i]) k_s[i] v_s[j]).
   * This is what the official kernel (cuda_v6/wkv6_cuda.cu) computes as a backward walk
   * (sum over s > t) plus a forward walk (s < t, and the bonus). Backends compute it in
   * linear time (two walks of the RWKV-6 state).
   */
  biWkv6(r: Value, k: Value, v: Value, w: Value, u: Value): Value {
    for (const x of [k, v, w]) checkSame('BiWkv6', r, x);
    if (r.shape.length !== 4)
      throw new ShapeMismatchError(`BiWkv6: ${r.name}[${r.shape.join(', ')}] must be [B, T, H, N]`, {
        field: r.name,
      });
    if (u.shape.length !== 2 || u.shape[0] !== r.shape[2] || u.shape[1] !== r.shape[3])
      throw new ShapeMismatchError(
        `BiWkv6: bonus ${u.name}[${u.shape.join(', ')}] must be [H, N] = [${r.shape[2]}, ${r.shape[3]}]`,
        { field: u.name },
      );
    return this.emit('BiWkv6', [r, k, v, w, u], [{ dtype: r.dtype, shape: r.shape }], {})[0]!;
  }

  /** Finishes the graph. */
  build(): Graph {
    if (this.outputs.length === 0) throw new BadInputError(`graph '${this.name}' has no outputs`);
    return {
      name: this.name,
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      initializers: new Map(this.initializers),
      nodes: [...this.nodes],
    };
  }

  private unary(op: OpName, x: Value): Value {
    return this.emit(op, [x], [{ dtype: x.dtype, shape: x.shape }], {})[0]!;
  }

  private binary(op: OpName, a: Value, b: Value): Value {
    if (a.dtype !== b.dtype) throw this.shapeError(op, `dtypes ${a.dtype} and ${b.dtype} differ`, a, b);
    return this.emit(op, [a, b], [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape, op) }], {})[0]!;
  }

  private emit(
    op: OpName,
    inputs: readonly Value[],
    outs: readonly { dtype: DType; shape: readonly Dim[] }[],
    attrs: Record<string, AttrValue>,
    outName?: string,
  ): Value[] {
    const id = this.counter++;
    const outputs = outs.map((o, i) =>
      this.newValue(
        outName ?? `${op.toLowerCase()}_${id}${outs.length > 1 ? `_${i}` : ''}`,
        o.dtype,
        o.shape,
      ),
    );
    this.nodes.push({ op, inputs, outputs, attrs });
    return outputs;
  }

  private newValue(name: string, dtype: DType, shape: readonly Dim[]): Value {
    if (this.names.has(name))
      throw new BadInputError(`value name '${name}' is used twice in graph '${this.name}'`);
    this.names.add(name);
    return { name, dtype, shape: [...shape] };
  }

  private shapeError(op: string, message: string, ...values: Value[]): ShapeMismatchError {
    const shapes = values.map((v) => `${v.name}[${v.shape.join(', ')}]`).join(' and ');
    return new ShapeMismatchError(`${op}: ${message} (${shapes})`, { field: values[0]?.name ?? op });
  }
}
