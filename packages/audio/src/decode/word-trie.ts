/**
 * The letter trie of a word lexicon, in typed arrays: one entry per node, children as a
 * linked list of siblings (the root's in a table: nearly every symbol starts a word). The
 * shipped lexicon (116k words, 272k nodes) takes 3.5 MB this way; as node objects with a `Map`
 * of children each, the lexicon took 100 MB of heap and twice the time to load.
 *
 * @module
 */

/** No node (the end of a sibling list, a missing child). */
export const NO_NODE = -1;

/** A trie of symbol sequences (words as letter ids), read-only once built. */
export class WordTrie {
  /** Nodes in the trie, the root (node 0) included. */
  readonly nodes: number;
  /** Per node: the word id ending there, or -1. */
  readonly wordId: Int32Array;
  private readonly symbol: Uint8Array;
  private readonly firstChild: Int32Array;
  private readonly nextSibling: Int32Array;
  private readonly rootChild: Int32Array;

  /** The trie of arrays made by a {@link WordTrieBuilder}. */
  constructor(
    nodes: number,
    symbol: Uint8Array,
    firstChild: Int32Array,
    nextSibling: Int32Array,
    wordId: Int32Array,
  ) {
    this.nodes = nodes;
    this.symbol = symbol;
    this.firstChild = firstChild;
    this.nextSibling = nextSibling;
    this.wordId = wordId;
    // the root has a child for nearly every symbol: a table instead of a walk along 28 siblings
    this.rootChild = new Int32Array(256).fill(NO_NODE);
    for (let c = firstChild[0]!; c !== NO_NODE; c = nextSibling[c]!) this.rootChild[symbol[c]!] = c;
  }

  /** The child of `node` along `sym`, or {@link NO_NODE}. */
  child(node: number, sym: number): number {
    if (node === 0) return this.rootChild[sym] ?? NO_NODE;
    let c = this.firstChild[node]!;
    while (c !== NO_NODE && this.symbol[c] !== sym) c = this.nextSibling[c]!;
    return c;
  }

  /**
   * Per node, the largest of `score` over the words in its subtree (-Infinity where none
   * has one): the look-ahead of a word language model. Children are always made after their
   * parent, so one pass from the last node back to the root fills it.
   */
  subtreeMax(score: Float64Array): Float64Array {
    const best = new Float64Array(this.nodes).fill(-Infinity);
    for (let n = this.nodes - 1; n >= 0; n--) {
      const id = this.wordId[n]!;
      let b = id >= 0 ? score[id]! : -Infinity;
      for (let c = this.firstChild[n]!; c !== NO_NODE; c = this.nextSibling[c]!)
        if (best[c]! > b) b = best[c]!;
      best[n] = b;
    }
    return best;
  }
}

/** Adds words to a trie one at a time (no per-word arrays needed), then {@link finish}. */
export class WordTrieBuilder {
  private capacity: number;
  private nodes = 1;
  private symbol: Uint8Array<ArrayBuffer>;
  private firstChild: Int32Array<ArrayBuffer>;
  private nextSibling: Int32Array<ArrayBuffer>;
  private wordId: Int32Array<ArrayBuffer>;

  /**
   * `capacity`: nodes to make room for at once (1 + the words' summed lengths is enough for
   * all; more are made room for as needed).
   */
  constructor(capacity = 1024) {
    this.capacity = Math.max(1, capacity);
    this.symbol = new Uint8Array(this.capacity);
    this.firstChild = new Int32Array(this.capacity).fill(NO_NODE);
    this.nextSibling = new Int32Array(this.capacity).fill(NO_NODE);
    this.wordId = new Int32Array(this.capacity).fill(-1);
  }

  /** Adds the word `symbols[0 .. length)` with id `id` (a sequence added twice keeps the later id). */
  add(symbols: ArrayLike<number>, length: number, id: number): void {
    let node = 0;
    for (let i = 0; i < length; i++) {
      const sym = symbols[i]!;
      let child = this.firstChild[node]!;
      while (child !== NO_NODE && this.symbol[child] !== sym) child = this.nextSibling[child]!;
      if (child === NO_NODE) {
        if (this.nodes === this.capacity) this.grow();
        child = this.nodes++;
        this.symbol[child] = sym;
        this.nextSibling[child] = this.firstChild[node]!;
        this.firstChild[node] = child;
      }
      node = child;
    }
    this.wordId[node] = id;
  }

  /** The trie, in arrays of its exact size. */
  finish(): WordTrie {
    const n = this.nodes;
    return new WordTrie(
      n,
      this.symbol.slice(0, n),
      this.firstChild.slice(0, n),
      this.nextSibling.slice(0, n),
      this.wordId.slice(0, n),
    );
  }

  private grow(): void {
    this.capacity *= 2;
    const symbol = new Uint8Array(this.capacity);
    symbol.set(this.symbol);
    this.symbol = symbol;
    const extend = (a: Int32Array<ArrayBuffer>, fill: number): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(this.capacity).fill(fill);
      b.set(a);
      return b;
    };
    this.firstChild = extend(this.firstChild, NO_NODE);
    this.nextSibling = extend(this.nextSibling, NO_NODE);
    this.wordId = extend(this.wordId, -1);
  }
}
