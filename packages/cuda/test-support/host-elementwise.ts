import type { Node } from '@rwkv-streams/core';
import type { ShapeMap } from '../src/exec/shapes.js';
import { broadcastStrides } from '../src/kernels/geometry.js';

/** The IR's elementwise ops on the host (the second operand is 0 for unary ones). */
export const HOST_OPS: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Max: (a, b) => Math.max(a, b),
  Sqrt: (a) => Math.sqrt(a),
  Neg: (a) => -a,
  Sigmoid: (a) => 1 / (1 + Math.exp(-a)),
  Exp: (a) => Math.exp(a),
  Tanh: (a) => Math.tanh(a),
  Relu: (a) => Math.max(a, 0),
};

/**
 * One elementwise node over its operands with numpy broadcasting, into a new array made by
 * `make` (Float32Array: each result rounded to float32 as a kernel stores it).
 */
export function evalElementwiseNode<T extends Float32Array | Float64Array>(
  n: Node,
  vals: ReadonlyMap<string, T>,
  shapes: ShapeMap,
  make: (length: number) => T,
): T {
  const out = shapes.get(n.outputs[0]!.name)!;
  const y = make(out.reduce((a, d) => a * d, 1));
  const args = n.inputs.map((v) => ({
    x: vals.get(v.name)!,
    st: broadcastStrides(shapes.get(v.name)!, out),
  }));
  for (let i = 0; i < y.length; i++) {
    let rem = i;
    const offs = args.map(() => 0);
    for (let d = out.length - 1; d >= 0; d--) {
      const c = rem % out[d]!;
      rem = Math.floor(rem / out[d]!);
      args.forEach((a, k) => {
        offs[k]! += c * a.st[d]!;
      });
    }
    const [a, b] = args.map((a, k) => a.x[offs[k]!]!);
    y[i] = HOST_OPS[n.op]!(a!, b ?? 0);
  }
  return y;
}
