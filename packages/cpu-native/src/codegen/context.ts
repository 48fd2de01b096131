import type { DType, Node, Value } from '@rwkv-streams/core';

/** A graph value as the generated C sees it: a pointer and its dims as C expressions. */
export interface CValue {
  /** C expression of the pointer (float* or int32_t*). */
  readonly ptr: string;
  /** Each dim as a C expression of the run's batch size `B` (a literal where fixed). */
  readonly dims: readonly string[];
  readonly dtype: DType;
}

/** What an op emitter writes with: the values so far and the two kinds of code block. */
export interface EmitContext {
  /** The C view of a value already defined (an input, a weight or an earlier output). */
  value(v: Value): CValue;
  /** Defines a node output in a buffer of its own, sized for the run's batch size. */
  define(v: Value): CValue;
  /** Defines a node output as another value's storage (reshapes, identities). */
  alias(v: Value, of: CValue): CValue;
  /** Code one thread runs, in order with the other serial code (a `single` block). */
  serial(code: string): void;
  /**
   * Code every thread runs, holding its own worksharing loop (`#pragma omp for nowait`):
   * what the threads share (products, heads). The plan puts a barrier before the first node
   * that reads what it wrote.
   */
  parallel(code: string): void;
  /** The `rs_matrix` a Linear weight is stored in. */
  matrix(weight: Value): string;
  /** Error reporting from serial code: sets the run's error code and message once. */
  fail(message: string, args: readonly string[]): string;
}

/** Writes one node's C. */
export type OpEmitter = (ctx: EmitContext, node: Node) => void;

/** The product of dims as a C expression. */
export function numelExpr(dims: readonly string[]): string {
  return dims.length === 0 ? '1' : dims.map((d) => `(int64_t)(${d})`).join(' * ');
}

/** A float32 pointer expression of a value. */
export function f32(v: CValue): string {
  return v.dtype === 'int32' ? `((float*)${v.ptr})` : v.ptr;
}
