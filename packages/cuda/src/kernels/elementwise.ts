import { createHash } from 'node:crypto';
import { BadInputError, type StandardOp } from '@rwkv-streams/core';
import { HALF_HELPERS } from './half.js';
import { type WalkIndexing, walkLoop, walkOffsets, walkStruct, walkSuffix } from './walk-index.js';

/**
 * Elementwise kernels generated at run time. A chain of elementwise ops whose
 * intermediates nobody else reads (a "fused group", found by the planner) becomes ONE
 * kernel: each output element is computed from its leaves in registers, so a lerp or a
 * sigmoid-gate costs one launch and one pass over memory instead of one per op.
 * Leaves may broadcast (per-leaf strides in the walk struct); the source depends only on
 * the expression and the walk's rank and index width (`walk-index.ts`), never on sizes,
 * so one compilation serves every shape of that rank.
 */

/** The elementwise ops of the IR (float32) and how many operands each takes. */
const ARITY = {
  Add: 2,
  Sub: 2,
  Mul: 2,
  Div: 2,
  Max: 2,
  Exp: 1,
  Neg: 1,
  Sqrt: 1,
  Sigmoid: 1,
  Tanh: 1,
  Relu: 1,
  Softplus: 1,
  Identity: 1,
} as const satisfies Readonly<Partial<Record<StandardOp, 1 | 2>>>;

/** The elementwise ops of the IR (float32). */
export type ElementwiseOp = keyof typeof ARITY;

/** Whether an IR op is one of the fusable elementwise ops. */
export function isElementwise(op: string): op is ElementwiseOp {
  return op in ARITY;
}

/** How many operands an elementwise op takes. */
export function elementwiseArity(op: ElementwiseOp): 1 | 2 {
  return ARITY[op];
}

/** C for one op over operand expressions (precise libm calls: parity with the CPU backend). */
export function elementwiseExpr(op: ElementwiseOp, a: string, b: string): string {
  switch (op) {
    case 'Add':
      return `${a} + ${b}`;
    case 'Sub':
      return `${a} - ${b}`;
    case 'Mul':
      return `${a} * ${b}`;
    case 'Div':
      return `${a} / ${b}`;
    case 'Max':
      return `fmaxf(${a}, ${b})`;
    case 'Exp':
      return `expf(${a})`;
    case 'Neg':
      return `-${a}`;
    case 'Sqrt':
      return `sqrtf(${a})`;
    case 'Sigmoid':
      return `1.f / (1.f + expf(-${a}))`;
    case 'Tanh':
      return `tanhf(${a})`;
    case 'Relu':
      return `(${a} > 0.f ? ${a} : 0.f)`;
    case 'Softplus':
      // ln(1 + e^x); for large x, e^x overflows while the result is x to float precision.
      return `(${a} > 20.f ? ${a} : log1pf(expf(${a})))`;
    case 'Identity':
      return a;
  }
}

/** An operand of a fused node: one of the group's leaves, or an earlier node's result. */
export type FusedRef = { readonly leaf: number } | { readonly node: number };

/**
 * A fused group as an expression DAG: nodes in order. The result stored is the last node,
 * or with `results` each listed node, one output a result (siblings fused into one kernel,
 * exec/sibling-fusion.ts).
 */
export interface FusedProgram {
  readonly leaves: number;
  readonly nodes: readonly { readonly op: ElementwiseOp; readonly args: readonly FusedRef[] }[];
  readonly results?: readonly number[];
}

/** How a fused kernel stores a result: float32, or rounded to a half type (for cuBLAS). */
export type StoreType = 'f32' | 'f16' | 'bf16';

/**
 * A fused program as C statements, one `const float` a node (named `<prefix><j>`), over
 * leaf expressions given by `leaf`; the last statement's name is the result. Shared by the
 * elementwise kernels and the GEMV prologues and epilogues (gemv-group.ts).
 */
export function programStatements(p: FusedProgram, leaf: (k: number) => string, prefix: string): string[] {
  const ref = (r: FusedRef) => ('leaf' in r ? leaf(r.leaf) : `${prefix}${r.node}`);
  return p.nodes.map((n, j) => {
    if (n.args.length !== ARITY[n.op]) throw new BadInputError(`${n.op} takes ${ARITY[n.op]} operands`);
    const a = n.args[0] ? ref(n.args[0]) : '';
    const b = n.args[1] ? ref(n.args[1]) : '';
    return `const float ${prefix}${j} = ${elementwiseExpr(n.op, a, b)};`;
  });
}

/**
 * The generated kernel (source and entry name) of a fused program, storing each result as
 * float32 or rounded to a half type (for a cuBLAS reader with half weights). Operands of
 * its walk: the outputs first (one a result, all of the iteration's shape), then the leaves.
 */
export function elementwiseKernel(
  p: FusedProgram,
  ix: WalkIndexing,
  outTypes: StoreType | readonly StoreType[] = 'f32',
): { source: string; name: string } {
  if (p.nodes.length === 0) throw new BadInputError('a fused elementwise program needs at least one op');
  const results = p.results ?? [p.nodes.length - 1];
  const types = typeof outTypes === 'string' ? results.map(() => outTypes) : outTypes;
  if (types.length !== results.length)
    throw new BadInputError(`${results.length} results need as many output types, got ${types.length}`);
  for (const r of results)
    if (!(Number.isInteger(r) && r >= 0 && r < p.nodes.length))
      throw new BadInputError(`result ${r} is not a node of the program (${p.nodes.length} nodes)`);
  const K = results.length;
  const body = programStatements(p, (k) => `x${k}`, 't');
  const operands = K + p.leaves; // outputs 0..K-1, leaves after
  const loads = Array.from({ length: p.leaves }, (_, k) => `const float x${k} = in${k}[off${K + k}];`).join(
    ' ',
  );
  const outs = types.map((t, j) => `${t === 'f32' ? 'float' : 'unsigned short'}* __restrict__ out${j}`);
  const ins = Array.from({ length: p.leaves }, (_, k) => `const float* __restrict__ in${k}`);
  const stores = results
    .map((r, j) => `out${j}[off${j}] = ${types[j] === 'f32' ? `t${r}` : `rwkv_f32_to_${types[j]}(t${r})`};`)
    .join(' ');
  // One output stored as float32: the shape of the key (and so the name) as before results existed.
  const single = K === 1 && results[0] === p.nodes.length - 1;
  const shape =
    body.join(' ') +
    `|${p.leaves}` +
    (single
      ? types[0] === 'f32'
        ? ''
        : `|${types[0]}`
      : `|results ${results.join(',')}|${types.join(',')}`);
  const name = `rwkv_ew_${createHash('sha256').update(shape).digest('hex').slice(0, 16)}${walkSuffix(ix)}`;
  const half = types.some((t) => t !== 'f32');
  const source = `${half ? HALF_HELPERS : ''}${walkStruct('EwWalk', operands, ix)}
extern "C" __global__ void ${name}(${[...outs, ...ins].join(', ')}, const EwWalk g) {
  ${walkLoop(
    ix,
    `${walkOffsets(operands, ix)}
    ${loads}
    ${body.join('\n    ')}
    ${stores}`,
  )}
}
`;
  return { source, name };
}
