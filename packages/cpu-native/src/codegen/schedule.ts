import type { Node } from '@rwkv-streams/core';

/** How a node runs: on one thread, shared by all threads, or not at all (a view of its input). */
export type NodeKind = 'serial' | 'parallel' | 'alias';

/**
 * Reorders nodes (still in dependency order) so that a run needs few barriers: in each phase
 * one thread runs every serial node it can (the others start the phase's shared work at
 * once), then the threads share every product and WKV whose inputs were written before the
 * last barrier; a barrier ends the phase. In the model's own order an RWKV-7 layer needs a
 * barrier after nearly every product; scheduled, its independent products (r, k, v and the
 * LoRAs' first halves) share one phase.
 */
export function scheduleNodes(nodes: readonly Node[], kind: (node: Node) => NodeKind): Node[] {
  // where each value stands: written before the last barrier, or still being written by
  // the single block numbered so (or by a shared loop: -1)
  const VISIBLE = -2;
  const state = new Map<string, number>();
  const produced = new Set<string>();
  for (const node of nodes) for (const v of node.outputs) produced.add(v.name);
  const root = new Map<string, string>(); // alias value -> the value whose storage it is
  const rootOf = (name: string) => root.get(name) ?? name;
  const at = (name: string) => (produced.has(rootOf(name)) ? state.get(rootOf(name)) : VISIBLE);
  const defined = (name: string) => !produced.has(name) || state.has(rootOf(name)) || root.has(name);

  const order: Node[] = [];
  const remaining = new Set(nodes);
  let block = 0;
  while (remaining.size > 0) {
    let progress = false;
    let serialRan = true;
    while (serialRan) {
      serialRan = false;
      for (const node of remaining) {
        const k = kind(node);
        if (!node.inputs.every((v) => defined(v.name))) continue;
        if (k === 'alias') {
          root.set(node.outputs[0]!.name, rootOf(node.inputs[0]!.name));
        } else if (k === 'serial') {
          if (!node.inputs.every((v) => at(v.name) === VISIBLE || at(v.name) === block)) continue;
          for (const v of node.outputs) state.set(v.name, block);
        } else continue;
        order.push(node);
        remaining.delete(node);
        serialRan = true;
        progress = true;
      }
    }
    let shared = false;
    for (const node of remaining) {
      if (kind(node) !== 'parallel') continue;
      if (!node.inputs.every((v) => defined(v.name) && at(v.name) === VISIBLE)) continue;
      for (const v of node.outputs) state.set(v.name, -1);
      order.push(node);
      remaining.delete(node);
      shared = true;
      progress = true;
    }
    // after shared work the next serial nodes run in a new single block
    if (shared) block++;
    if (!progress) {
      // a barrier: everything written so far becomes visible
      for (const [name, s] of state) if (s !== VISIBLE) state.set(name, VISIBLE);
      block++;
    }
  }
  return order;
}
