import type { Graph, Node } from '@rwkv-streams/core';
import type { ShapeMap } from './shapes.js';
import { isAlias, type Unit } from './units.js';

/** The half-precision element types an activation may be stored in. */
export type HalfType = 'f16' | 'bf16';

/**
 * The activations to store in half precision: results of elementwise groups, and of
 * Linears run by cuBLAS on half weights of that type, whose every reader (through
 * Reshape/Squeeze aliases) is a Linear that feeds cuBLAS half weights of one type. cuBLAS needs such an input rounded to the weights' type anyway; the group
 * that computes it stores it rounded (one pass, half the bytes) instead of a separate
 * cast per Linear (10-12% of a prefill's GPU time measured on an H200 before this).
 * The rounding is the same, so results are unchanged. Returns value name -> type, alias
 * and view names included.
 */
export function halfActivations(
  graph: Graph,
  units: readonly Unit[],
  shapes: ShapeMap,
  /** Whether a value is a weight on the device (a Linear's matrix). */
  isWeight: (name: string) => boolean,
  /** The half type a Linear hands cuBLAS its input in, or undefined (float32 or our GEMV). */
  cublasReadsHalf: (node: Node, shapes: ShapeMap) => HalfType | undefined,
  /**
   * Whether a Slice is a view of its input (one contiguous block: the plan copies nothing);
   * followed like a Reshape. A decode step's token-shift mixes reach their GEMMs that way.
   */
  isView: (node: Node) => boolean = () => false,
): Map<string, HalfType> {
  const readers = new Map<string, Node[]>();
  for (const n of graph.nodes)
    for (const v of n.inputs) readers.set(v.name, [...(readers.get(v.name) ?? []), n]);
  const graphOutputs = new Set(graph.outputs.map((v) => v.name));
  const out = new Map<string, HalfType>();
  for (const u of units) {
    // a cuBLAS half GEMM may store its product rounded too (C in the weights' type): a
    // LoRA's first matrix feeding its second directly (RWKV-7's a and v) needs no cast
    const gemmHalf =
      u.kind === 'node' && u.node.op === 'Linear' && isWeight(u.node.inputs[1]!.name)
        ? cublasReadsHalf(u.node, shapes)
        : undefined;
    if (u.kind !== 'fused' && !gemmHalf) continue;
    const root = u.outputs[0].name;
    const names: string[] = [];
    let type: HalfType | undefined;
    let ok = true;
    const visit = (name: string) => {
      if (!ok) return;
      if (graphOutputs.has(name)) {
        ok = false;
        return;
      }
      names.push(name);
      const rs = readers.get(name) ?? [];
      if (rs.length === 0) ok = false;
      for (const r of rs) {
        if ((isAlias(r.op) && r.op !== 'Identity') || isView(r)) visit(r.outputs[0]!.name);
        else if (r.op === 'Linear' && r.inputs[0]!.name === name && isWeight(r.inputs[1]!.name)) {
          const t = cublasReadsHalf(r, shapes);
          if (!t || (type && t !== type)) ok = false;
          else type = t;
        } else ok = false;
        if (!ok) return;
      }
    };
    visit(root);
    if (ok && type && (!gemmHalf || gemmHalf === type)) for (const n of names) out.set(n, type);
  }
  return out;
}
