import type { ConstPool } from './emitter.js';
import type { OnnxGraph, OnnxNode } from './onnx-schema.js';

/**
 * Rewrites of an emitted node list that onnxruntime's own optimizer does not make, each
 * removing a node a token from a decode step (onnxruntime's cost there is mostly per node
 * run, and a copied state is a pass over its memory):
 *
 * - an `Identity` that copies a value to a graph output is removed and the value's
 *   producer writes the output itself (onnxruntime keeps such a copy when the value has
 *   other consumers: RWKV-5/6/7's new matrix state, which the step also reads for y, was
 *   copied once a layer and token);
 * - `Reshape(Reshape(x, s1), s2)` becomes `Reshape(x, s2)` when every 0 (copy the input's
 *   dim) of s2 is a 0 of s1 too (onnxruntime folds such chains only when the shapes are
 *   fully static; ours keep the batch dim symbolic with 0);
 * - nodes whose outputs nobody reads are removed (onnxruntime runs them).
 *
 * `outputs` are the graph's output names. Names read by nested subgraphs (a Scan body's
 * outer-scope values) are never renamed. Mutates and returns `nodes`.
 */
export function simplifyNodes(nodes: OnnxNode[], outputs: readonly string[], pool: ConstPool): OnnxNode[] {
  const isOutput = new Set(outputs);
  const inSubgraphs = new Set<string>();
  for (const n of nodes) for (const a of n.attribute) if (a.g) collectNames(a.g, inSubgraphs);
  const producer = new Map<string, OnnxNode>();
  for (const n of nodes) for (const o of n.output) producer.set(o, n);

  // Reshape chains.
  for (const n of nodes) {
    if (n.opType !== 'Reshape') continue;
    const inner = producer.get(n.input[0]!);
    if (!inner || inner.opType !== 'Reshape') continue;
    const s1 = pool.int64Values(inner.input[1]!);
    const s2 = pool.int64Values(n.input[1]!);
    if (!s1 || !s2 || !s2.every((d, i) => d !== 0 || s1[i] === 0)) continue;
    n.input[0] = inner.input[0]!;
  }

  // Identity copies into graph outputs.
  const drop = new Set<OnnxNode>();
  for (const n of nodes) {
    if (n.opType !== 'Identity' || !isOutput.has(n.output[0]!)) continue;
    const from = n.input[0]!;
    const src = producer.get(from);
    if (!src || isOutput.has(from) || inSubgraphs.has(from) || inSubgraphs.has(n.output[0]!)) continue;
    const to = n.output[0]!;
    src.output = src.output.map((o) => (o === from ? to : o));
    for (const m of nodes) m.input = m.input.map((i) => (i === from ? to : i));
    producer.set(to, src);
    producer.delete(from);
    drop.add(n);
  }

  // Nodes whose values nobody reads (a folded Reshape's input, say): onnxruntime runs
  // them (it does not remove dead nodes), so they go, last first.
  const read = new Map<string, number>();
  const count = (n: OnnxNode, by: number) => {
    for (const i of n.input) if (i) read.set(i, (read.get(i) ?? 0) + by);
  };
  for (const n of nodes) if (!drop.has(n)) count(n, 1);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (drop.has(n)) continue;
    const used = n.output.some(
      (o) => o !== '' && (isOutput.has(o) || inSubgraphs.has(o) || (read.get(o) ?? 0) > 0),
    );
    if (used) continue;
    drop.add(n);
    count(n, -1);
  }
  if (drop.size === 0) return nodes;
  const kept = nodes.filter((n) => !drop.has(n));
  nodes.length = 0;
  nodes.push(...kept);
  return nodes;
}

function collectNames(g: OnnxGraph, into: Set<string>): void {
  for (const n of g.node) {
    for (const i of n.input) into.add(i);
    for (const a of n.attribute) if (a.g) collectNames(a.g, into);
  }
}
