import type { Graph, Node } from '@rwkv-streams/core';
import type { ShapeMap } from './shapes.js';
import { type FusedManyUnit, type FusedUnit, fusedProgram, type Unit } from './units.js';

/**
 * Sibling fusion: elementwise groups (fused units) with the same result shape whose inputs
 * are all ready at an earlier sibling's position run as ONE kernel there, sharing their
 * leaves. A prefill computes six token-shift mixes x + (shifted - x) * mix_i as six
 * kernels, each reading x and the difference again; merged, they are read once and the
 * six results written in one launch. A single-result elementwise producer whose every
 * reader is inside the merged kernel (the difference above) is computed in it too and
 * never stored.
 *
 * Runs after GEMV grouping (whose prologues take single-result groups) and after the
 * choice of half activations (per value, so each result keeps its store type).
 */

/** Bounds on one merged kernel. */
export interface SiblingFusionLimits {
  /** Results stored by one kernel. */
  readonly maxResults: number;
  /** Leaves (inputs) read by one kernel (each one pointer and one stride set of its walk). */
  readonly maxLeaves: number;
  /** How many units back a sibling may be looked for. */
  readonly window: number;
}

/** The default bounds: a layer's six mixes with room to spare. */
export const SIBLING_LIMITS: SiblingFusionLimits = { maxResults: 8, maxLeaves: 16, window: 24 };

interface Group {
  /** Position (unit index) the merged kernel runs at: its first member's. */
  readonly at: number;
  readonly dims: string;
  readonly members: FusedUnit[];
  /** Producers computed inside, never stored (with their unit index, for their order). */
  readonly absorbed: { unit: FusedUnit; index: number }[];
  readonly leaves: Set<string>;
}

/** Merges sibling elementwise units (see above); other units are kept as they are. */
export function fuseSiblings(
  units: readonly Unit[],
  graph: Graph,
  shapes: ShapeMap,
  limits: SiblingFusionLimits = SIBLING_LIMITS,
): Unit[] {
  // Where each value becomes available (graph inputs and weights: always).
  const definedAt = new Map<string, number>();
  units.forEach((u, i) => {
    for (const v of u.outputs) definedAt.set(v.name, i);
  });
  const ready = (name: string, at: number) => (definedAt.get(name) ?? -1) < at;
  const graphOutputs = new Set(graph.outputs.map((v) => v.name));
  const groups: Group[] = [];
  const groupOf = new Map<number, Group>(); // unit index -> the group it joined or leads
  units.forEach((u, i) => {
    if (u.kind !== 'fused') return;
    const dims = shapes.get(u.outputs[0].name)!.join('x');
    const leafNames = u.inputs.map((v) => v.name);
    // Among the groups it may join, the one sharing most of its leaves (the latest on a
    // tie): merging pays most where reads are shared.
    let best: Group | undefined;
    let bestShared = -1;
    for (let g = groups.length - 1; g >= 0; g--) {
      const cand = groups[g]!;
      if (i - cand.at > limits.window) break;
      if (cand.dims !== dims || cand.members.length >= limits.maxResults) continue;
      if (!leafNames.every((n) => ready(n, cand.at))) continue;
      const union = new Set([...cand.leaves, ...leafNames]);
      if (union.size > limits.maxLeaves) continue;
      const shared = leafNames.filter((n) => cand.leaves.has(n)).length;
      if (shared > bestShared) {
        best = cand;
        bestShared = shared;
      }
    }
    if (best) {
      best.members.push(u);
      for (const n of leafNames) best.leaves.add(n);
      groupOf.set(i, best);
      definedAt.set(u.outputs[0].name, best.at); // now computed at the group's position
      return;
    }
    const group: Group = { at: i, dims, members: [u], absorbed: [], leaves: new Set(leafNames) };
    groups.push(group);
    groupOf.set(i, group);
  });
  // Producers read only inside a merged kernel are computed in it.
  const readers = new Map<string, Node[]>();
  for (const n of graph.nodes)
    for (const v of n.inputs) readers.set(v.name, [...(readers.get(v.name) ?? []), n]);
  const producer = new Map<string, { unit: FusedUnit; index: number }>();
  units.forEach((u, i) => {
    if (u.kind === 'fused') producer.set(u.outputs[0].name, { unit: u, index: i });
  });
  const absorbedAt = new Set<number>();
  for (const g of groups) {
    if (g.members.length < 2) continue;
    const inside = new Set(g.members.flatMap((m) => m.nodes));
    for (const name of [...g.leaves]) {
      const p = producer.get(name);
      if (!p || p.index >= g.at || groupOf.get(p.index)!.members.length > 1 || absorbedAt.has(p.index))
        continue;
      if (graphOutputs.has(name) || !(readers.get(name) ?? []).every((r) => inside.has(r))) continue;
      const leaves = new Set([...g.leaves].filter((n) => n !== name));
      for (const v of p.unit.inputs) leaves.add(v.name);
      if (leaves.size > limits.maxLeaves) continue;
      g.absorbed.push(p);
      g.leaves.clear();
      for (const n of leaves) g.leaves.add(n);
      absorbedAt.add(p.index);
    }
  }
  const out: Unit[] = [];
  units.forEach((u, i) => {
    if (absorbedAt.has(i)) return;
    const g = groupOf.get(i);
    if (!g || (g.members.length === 1 && g.absorbed.length === 0)) {
      out.push(u);
      return;
    }
    if (g.at === i) out.push(mergedUnit(g));
  });
  return out;
}

function mergedUnit(g: Group): FusedManyUnit {
  // absorbed producers in their original order, then each member's nodes
  const absorbed = [...g.absorbed].sort((a, b) => a.index - b.index).flatMap((a) => a.unit.nodes);
  const nodes = [...absorbed, ...g.members.flatMap((m) => m.nodes)];
  const outputs = g.members.map((m) => m.outputs[0]);
  const { program, leaves } = fusedProgram(
    nodes,
    outputs.map((v) => v.name),
  );
  return { kind: 'fusedMany', nodes, inputs: leaves, outputs, program };
}
