import type { Node, Value } from '../../graph/ir.js';
import type { OnnxEmitter } from './emitter.js';

/** One fused op written in place of several IR nodes (see `planFusions`). */
export type Fusion =
  | {
      readonly kind: 'split';
      readonly input: string;
      readonly axis: number;
      readonly sizes: number[];
      readonly outputs: string[];
    }
  | {
      readonly kind: 'layerNormAffine';
      readonly x: string;
      readonly scale: string;
      readonly bias: string;
      readonly epsilon: number;
      readonly out: string;
    };

/**
 * Patterns of IR nodes that the ONNX lowering writes as one node each (onnxruntime's cost
 * in a decode step is mostly per node run). Returns, per IR node, the fusion to emit in
 * its place or 'done' for nodes a fusion covers.
 *
 * Always:
 * - Slices of one value along one axis that tile it exactly (static length, ranges
 *   contiguous from 0 to the end) become one ONNX Split, written where the first of them
 *   was (RWKV-7's step graph slices its six stacked token mixes this way).
 *
 * With `cpuFusions` (what onnxruntime's CPU kernels accept beyond standard ONNX):
 * - LayerNorm(x) without affine, then Mul by a weight and Add of a weight (or Reshapes of
 *   weights) shaped as x's trailing dims (say [H, N] over [B, T, H, N]: a group norm with
 *   one group per head),
 *   becomes one LayerNormalization over the last axis with that scale and bias
 *   (onnxruntime's CPU kernel broadcasts them over the leading dims; standard ONNX wants
 *   them of the normalized shape): RWKV-5/6/7's ln_x. 200 chained on [1, 1, 12, 64]: 4.4 us
 *   each against 4.9 for the three ops.
 *
 * Measured and not done (slower on onnxruntime 1.30's CPU kernels than what they replace,
 * in chains of 200 on this shape): SkipLayerNormalization for a residual Add + LayerNorm
 * (4.7 us against 1.8), SimplifiedLayerNormalization for RWKV-7's L2 normalization of the
 * removal key (3.5 us against 3.1 for Mul, ReduceSum, Sqrt, Max, Div).
 */
export function planFusions(
  nodes: readonly Node[],
  graphOutputs: readonly string[],
  cpuFusions: boolean,
): Map<Node, Fusion | 'done'> {
  const plan = new Map<Node, Fusion | 'done'>();
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const node of nodes) {
    for (const o of node.outputs) producer.set(o.name, node);
    for (const i of node.inputs) consumers.set(i.name, [...(consumers.get(i.name) ?? []), node]);
  }
  const isOutput = new Set(graphOutputs);
  /** Whether a value is read by `only` alone (so its producer can be dropped with it). */
  const readOnlyBy = (v: Value, only: Node) =>
    !isOutput.has(v.name) && (consumers.get(v.name) ?? []).every((n) => n === only);
  const free = (n: Node | undefined): n is Node => n !== undefined && !plan.has(n);
  /** A weight, or a Reshape of one (onnxruntime folds it at session creation). */
  const isConstant = (v: Value): boolean => {
    const p = producer.get(v.name);
    return p === undefined || (p.op === 'Reshape' && !producer.has(p.inputs[0]!.name));
  };

  planSplits(nodes, plan);
  if (!cpuFusions) return plan;

  for (const ln of nodes) {
    if (ln.op !== 'LayerNorm' || ln.attrs['affine'] !== 0 || plan.has(ln)) continue;
    const x = ln.inputs[0]!;
    const normed = ln.outputs[0]!;
    const mul = (consumers.get(normed.name) ?? [])[0];
    if (!free(mul) || mul.op !== 'Mul' || !readOnlyBy(normed, mul)) continue;
    const scale = mul.inputs.find((v) => v.name !== normed.name);
    const scaled = mul.outputs[0]!;
    const add = (consumers.get(scaled.name) ?? [])[0];
    if (!scale || !free(add) || add.op !== 'Add' || !readOnlyBy(scaled, add)) continue;
    const bias = add.inputs.find((v) => v.name !== scaled.name);
    if (!bias || !isConstant(scale) || !isConstant(bias)) continue;
    if (!isTrailingShape(scale, x) || !isTrailingShape(bias, x) || !sameShape(add.outputs[0]!, x)) continue;
    // Written where the Add was: the scale and bias may be Reshapes made after the norm.
    plan.set(add, {
      kind: 'layerNormAffine',
      x: x.name,
      scale: scale.name,
      bias: bias.name,
      epsilon: ln.attrs['epsilon'] as number,
      out: add.outputs[0]!.name,
    });
    plan.set(ln, 'done');
    plan.set(mul, 'done');
  }

  return plan;
}

/** Emits a fusion's node. */
export function emitFusion(em: OnnxEmitter, f: Fusion, rename: (name: string) => string): void {
  switch (f.kind) {
    case 'split':
      em.op('Split', [rename(f.input), em.pool.int64(f.sizes)], { axis: f.axis }, f.outputs.map(rename));
      return;
    case 'layerNormAffine':
      em.op1(
        'LayerNormalization',
        [rename(f.x), rename(f.scale), rename(f.bias)],
        { axis: -1, epsilon: { float: f.epsilon } },
        rename(f.out),
      );
      return;
  }
}

function planSplits(nodes: readonly Node[], plan: Map<Node, Fusion | 'done'>): void {
  const groups = new Map<string, Node[]>();
  for (const node of nodes) {
    if (node.op !== 'Slice') continue;
    const key = `${node.inputs[0]!.name}\u0000${node.attrs['axis'] as number}`;
    groups.set(key, [...(groups.get(key) ?? []), node]);
  }
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const axis = group[0]!.attrs['axis'] as number;
    const dim = group[0]!.inputs[0]!.shape[axis];
    if (typeof dim !== 'number') continue;
    const ranges = group
      .map((n) => ({ n, start: n.attrs['start'] as number, end: Math.min(n.attrs['end'] as number, dim) }))
      .sort((p, q) => p.start - q.start);
    let at = 0;
    for (const r of ranges) {
      if (r.start !== at || r.end <= r.start) break;
      at = r.end;
    }
    if (at !== dim) continue;
    for (const n of group) plan.set(n, 'done');
    plan.set(group[0]!, {
      kind: 'split',
      input: group[0]!.inputs[0]!.name,
      axis,
      sizes: ranges.map((r) => r.end - r.start),
      outputs: ranges.map((r) => r.n.outputs[0]!.name),
    });
  }
}

/** Whether `w` has the shape of `x`'s trailing dims (static), at least the last one. */
function isTrailingShape(w: Value, x: Value): boolean {
  const tail = x.shape.slice(x.shape.length - w.shape.length);
  return (
    w.shape.length >= 1 &&
    w.shape.length <= x.shape.length &&
    w.shape.every((d, i) => typeof d === 'number' && d === tail[i])
  );
}

function sameShape(a: Value, b: Value): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}
