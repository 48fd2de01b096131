import type { Node } from '@rwkv-streams/core';
import { type CValue, type EmitContext, numelExpr, type OpEmitter } from '../context.js';

/** C of each unary op on `x`. */
const UNARY: Readonly<Record<string, (x: string) => string>> = {
  Exp: (x) => `expf(${x})`,
  Neg: (x) => `-(${x})`,
  Sqrt: (x) => `sqrtf(${x})`,
  Sigmoid: (x) => `rs_sigmoid(${x})`,
  Tanh: (x) => `tanhf(${x})`,
  Relu: (x) => `(${x} > 0.f ? ${x} : 0.f)`,
  Softplus: (x) => `rs_softplus(${x})`,
};

/** C of each binary op (numpy broadcasting, as ONNX). */
const BINARY: Readonly<Record<string, (a: string, b: string) => string>> = {
  Add: (a, b) => `${a} + ${b}`,
  Sub: (a, b) => `${a} - ${b}`,
  Mul: (a, b) => `${a} * ${b}`,
  Div: (a, b) => `${a} / ${b}`,
  Max: (a, b) => `fmaxf(${a}, ${b})`,
};

/** The ops this file emits. */
export const ELEMENTWISE_OPS: readonly string[] = [...Object.keys(UNARY), ...Object.keys(BINARY)];

/**
 * An elementwise op in one serial loop: a flat loop where every operand has the output's
 * shape or one element, nested loops with broadcast strides otherwise.
 */
export const emitElementwise: OpEmitter = (ctx: EmitContext, node: Node) => {
  const ins = node.inputs.map((v) => ctx.value(v));
  const out = ctx.define(node.outputs[0]!);
  const unary = UNARY[node.op];
  const binary = BINARY[node.op];
  const n = numelExpr(out.dims);
  const same = (v: CValue) => v.dims.length === out.dims.length && v.dims.every((d, i) => d === out.dims[i]);
  const scalar = (v: CValue) => v.dims.every((d) => d === '1');
  if (ins.every((v) => same(v) || scalar(v))) {
    const at = (v: CValue) => (scalar(v) ? `${v.ptr}[0]` : `${v.ptr}[i]`);
    const expr = unary ? unary(at(ins[0]!)) : binary!(at(ins[0]!), at(ins[1]!));
    ctx.serial(`for (int64_t i = 0; i < ${n}; i++) ${out.ptr}[i] = ${expr};`);
    return;
  }
  // broadcast: one loop a dim of the output, each operand read through its own strides
  const rank = out.dims.length;
  const strides = ins.map((v) => {
    const aligned = [...Array(rank - v.dims.length).fill('1'), ...v.dims];
    const s: string[] = Array(rank).fill('0');
    let acc = '1';
    for (let d = rank - 1; d >= 0; d--) {
      s[d] = aligned[d] === '1' && out.dims[d] !== '1' ? '0' : acc;
      acc = `${acc} * (int64_t)(${aligned[d]})`;
    }
    return s;
  });
  const loops = out.dims.map((d, i) => `for (int64_t i${i} = 0; i${i} < ${d}; i${i}++)`).join(' ');
  const at = (k: number) =>
    `${ins[k]!.ptr}[${strides[k]!.map((s, d) => (s === '0' ? '0' : `i${d} * (${s})`)).join(' + ')}]`;
  const expr = unary ? unary(at(0)) : binary!(at(0), at(1));
  ctx.serial(`{ int64_t o = 0; ${loops} ${out.ptr}[o++] = ${expr}; }`);
};
