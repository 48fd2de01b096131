import { BadInputError } from '@rwkv-streams/core';

/** A hotword: its token ids and, optionally, its own bonus per token. */
export interface Hotword {
  readonly tokens: readonly number[];
  /** Bonus (log-probability units) per matched token; default the graph's. */
  readonly bonus?: number;
}

interface Node {
  readonly token: number;
  readonly depth: number;
  /** Bonus collected on the way from the root to here. */
  readonly nodeScore: number;
  /** Bonus of the hotwords ending here or at a suffix of this match (kept for good). */
  outputScore: number;
  isEnd: boolean;
  readonly next: Map<number, Node>;
  fail: Node | null;
}

/** Where a hypothesis stands in the hotword graph (an opaque handle). */
export type ContextState = Node;

/**
 * Hotword boosting for beam search (the Aho-Corasick form that k2/icefall's and
 * sherpa-onnx's context graphs use): every hypothesis carries a state in a trie of the
 * hotwords; a token that continues a hotword earns its bonus, a token that breaks a partial
 * match gives back what the partial match earned (so only completed hotwords keep their
 * bonus), and failure links let a broken match continue as another hotword's prefix.
 */
export class ContextGraph {
  /** The start state (no partial match). */
  readonly root: ContextState;

  constructor(hotwords: readonly Hotword[], bonusPerToken = 1.5) {
    if (!(bonusPerToken >= 0))
      throw new BadInputError(`hotword bonus must be a number >= 0, got ${bonusPerToken}`, {
        field: 'bonusPerToken',
      });
    this.root = newNode(-1, 0, 0);
    hotwords.forEach((hw, h) => {
      if (hw.tokens.length === 0)
        throw new BadInputError(`hotword ${h} is empty`, { field: `hotwords[${h}]` });
      const bonus = hw.bonus ?? bonusPerToken;
      let node = this.root;
      for (const t of hw.tokens) {
        let child = node.next.get(t);
        if (!child) {
          child = newNode(t, node.depth + 1, node.nodeScore + bonus);
          node.next.set(t, child);
        }
        node = child;
      }
      node.isEnd = true;
    });
    this.link();
  }

  /**
   * One token from `state`: the score to add to the hypothesis and the new state.
   * Breaking a partial match returns its collected bonus (negative delta).
   */
  step(state: ContextState, token: number): { delta: number; state: ContextState } {
    let node: Node | null = state;
    let next: Node | undefined;
    while (node) {
      next = node.next.get(token);
      if (next) break;
      node = node.fail;
    }
    const to = next ?? this.root;
    // Partial bonus moves from the old match to the new one; hotwords that end here (or at
    // a suffix) add their whole bonus once more, which finalize/breaking never takes back.
    return { delta: to.nodeScore - state.nodeScore + to.outputScore, state: to };
  }

  /** Score to add when a hypothesis ends in `state` (an unfinished match gives its bonus back). */
  finalize(state: ContextState): number {
    return -state.nodeScore;
  }

  /** Breadth-first failure links and output scores (the bonus of hotwords ending here). */
  private link(): void {
    const queue: Node[] = [];
    for (const child of this.root.next.values()) {
      child.fail = this.root;
      child.outputScore = child.isEnd ? child.nodeScore : 0;
      queue.push(child);
    }
    while (queue.length > 0) {
      const node = queue.shift()!;
      for (const [token, child] of node.next) {
        let f: Node | null = node.fail;
        while (f && !f.next.has(token)) f = f.fail;
        child.fail = f ? f.next.get(token)! : this.root;
        child.outputScore = (child.isEnd ? child.nodeScore : 0) + child.fail.outputScore;
        queue.push(child);
      }
    }
  }
}

function newNode(token: number, depth: number, nodeScore: number): Node {
  return { token, depth, nodeScore, outputScore: 0, isEnd: false, next: new Map(), fail: null };
}
