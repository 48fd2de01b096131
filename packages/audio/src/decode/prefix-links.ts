import type { DecodedToken } from './tokens.js';

/**
 * A hypothesis' symbols (a CTC prefix, a transducer hypothesis) as a list linked backwards
 * from its last symbol: extending one is one new link whatever its length (copying the
 * symbols as an array, and joining them into a string key, made each extension cost as much
 * as the hypothesis is long).
 */
export interface TokenLink {
  readonly token: DecodedToken;
  readonly prev: TokenLink | null;
  /** Symbols up to and including this one. */
  readonly length: number;
}

/** What a prefix needs to be found by its symbols. */
export interface KeyedPrefix {
  readonly last: TokenLink | null;
  /** A hash of the symbol ids (not their frames): `extendHash` from 0 for the empty prefix. */
  readonly hash: number;
}

/** The hash of a prefix extended by symbol `id` (FNV-1a style, 32 bits). */
export const extendHash = (hash: number, id: number): number => Math.imul(hash ^ (id + 1), 16777619) >>> 0;

/** Whether two links spell the same symbol ids (their frames may differ). */
export function sameSymbols(a: TokenLink | null, b: TokenLink | null): boolean {
  let x = a;
  let y = b;
  // prefixes grown from one another share their links, so this stops at the first shared one
  while (x !== y) {
    if (x === null || y === null || x.length !== y.length || x.token.id !== y.token.id) return false;
    x = x.prev;
    y = y.prev;
  }
  return true;
}

/** The symbols of a linked prefix, first to last. */
export function tokensOf(last: TokenLink | null): DecodedToken[] {
  const out: DecodedToken[] = new Array(last?.length ?? 0);
  for (let l = last; l !== null; l = l.prev) out[l.length - 1] = l.token;
  return out;
}

/**
 * Values found by symbol sequence: by hash, then by comparing the symbols among the few
 * sequences that share a hash (a 32-bit collision is rare, but treating two different
 * sequences as one would be wrong).
 */
class SymbolMap<V> {
  private readonly byHash = new Map<number, { readonly last: TokenLink | null; readonly value: V }[]>();

  get(hash: number, last: TokenLink | null): V | undefined {
    return this.byHash.get(hash)?.find((e) => sameSymbols(e.last, last))?.value;
  }

  /** Adds a value for symbols that have none yet. */
  add(hash: number, last: TokenLink | null, value: V): void {
    const bucket = this.byHash.get(hash);
    if (bucket) bucket.push({ last, value });
    else this.byHash.set(hash, [{ last, value }]);
  }

  /** Removes the entry added with this very link. */
  delete(hash: number, last: TokenLink | null): void {
    const bucket = this.byHash.get(hash);
    const i = bucket ? bucket.findIndex((e) => e.last === last) : -1;
    if (i < 0) return;
    bucket!.splice(i, 1);
    if (bucket!.length === 0) this.byHash.delete(hash);
  }

  clear(): void {
    this.byHash.clear();
  }
}

/**
 * The hypotheses of one frame of a beam search, found by their symbols. `list` keeps them in
 * the order they were first added, the order the search breaks ties in.
 */
export class PrefixSet<P extends KeyedPrefix> {
  private readonly map = new SymbolMap<P>();
  /** The prefixes, in the order they were added. */
  readonly list: P[] = [];

  /** The prefix spelling the ids of `last` (whose hash is `hash`), if added. */
  get(hash: number, last: TokenLink | null): P | undefined {
    return this.map.get(hash, last);
  }

  /** Adds a prefix no other added one spells. */
  add(p: P): void {
    this.map.add(p.hash, p.last, p);
    this.list.push(p);
  }
}

/**
 * Values kept by symbol sequence, the oldest dropped beyond `limit` (the transducer search's
 * prediction-network results).
 */
export class PrefixCache<V> {
  private readonly map = new SymbolMap<V>();
  /** Hashes and links in the order they were added, from `head` on. */
  private readonly order: { readonly hash: number; readonly last: TokenLink | null }[] = [];
  private head = 0;

  constructor(private readonly limit: number) {}

  /** Entries held. */
  get size(): number {
    return this.order.length - this.head;
  }

  /** The value kept for the symbols of `last` (whose hash is `hash`), if any. */
  get(hash: number, last: TokenLink | null): V | undefined {
    return this.map.get(hash, last);
  }

  /** Keeps `value` for symbols not kept yet, dropping the oldest entries beyond the limit. */
  set(hash: number, last: TokenLink | null, value: V): void {
    this.map.add(hash, last, value);
    this.order.push({ hash, last });
    while (this.size > this.limit) {
      const old = this.order[this.head++]!;
      this.map.delete(old.hash, old.last);
    }
    // the queue's dropped front is cut off now and then, not at every entry
    if (this.head > 4 * this.limit + 64) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Drops every entry. */
  clear(): void {
    this.map.clear();
    this.order.length = 0;
    this.head = 0;
  }
}
