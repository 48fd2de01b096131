import { describe, expect, it } from 'vitest';
import {
  extendHash,
  type KeyedPrefix,
  PrefixSet,
  sameSymbols,
  type TokenLink,
  tokensOf,
} from './ctc-prefix-set.js';

/** A prefix of `ids` (frames counting from `frame0`) with its hash, as the search builds them. */
function prefix(ids: number[], frame0 = 0): KeyedPrefix & { name: string } {
  let last: TokenLink | null = null;
  let hash = 0;
  ids.forEach((id, i) => {
    last = { token: { id, frame: frame0 + i }, prev: last, length: i + 1 };
    hash = extendHash(hash, id);
  });
  return { last, hash, name: ids.join(',') };
}

describe('PrefixSet', () => {
  // Two 8-symbol prefixes whose 32-bit hashes are equal (found by a search over random ones)
  const a = prefix([15, 24, 9, 27, 9, 15, 20, 26]);
  const b = prefix([15, 20, 5, 11, 9, 15, 28, 10]);

  it('keeps two prefixes whose hashes collide apart, and finds each', () => {
    expect(a.hash).toBe(b.hash);
    const set = new PrefixSet<typeof a>();
    set.add(a);
    expect(set.get(b.hash, b.last)).toBeUndefined();
    set.add(b);
    expect(set.get(a.hash, a.last)?.name).toBe(a.name);
    expect(set.get(b.hash, b.last)?.name).toBe(b.name);
    expect(set.list.map((p) => p.name)).toEqual([a.name, b.name]);
  });

  it('finds a prefix by its symbols whatever their frames', () => {
    const set = new PrefixSet<typeof a>();
    const c = prefix([3, 1, 4]);
    set.add(c);
    const later = prefix([3, 1, 4], 50);
    expect(set.get(later.hash, later.last)).toBe(c);
    const other = prefix([3, 1, 5]);
    expect(set.get(other.hash, other.last)).toBeUndefined();
  });
});

describe('linked prefixes', () => {
  it('compare by symbol ids, shared links included', () => {
    const base = prefix([7, 8]);
    const grown: TokenLink = { token: { id: 9, frame: 5 }, prev: base.last, length: 3 };
    const again: TokenLink = { token: { id: 9, frame: 6 }, prev: base.last, length: 3 };
    expect(sameSymbols(grown, again)).toBe(true);
    expect(sameSymbols(grown, prefix([7, 8, 9], 20).last)).toBe(true);
    expect(sameSymbols(grown, prefix([7, 9, 9]).last)).toBe(false);
    expect(sameSymbols(grown, base.last)).toBe(false);
    expect(sameSymbols(null, null)).toBe(true);
    expect(tokensOf(grown)).toEqual([
      { id: 7, frame: 0 },
      { id: 8, frame: 1 },
      { id: 9, frame: 5 },
    ]);
    expect(tokensOf(null)).toEqual([]);
  });
});
