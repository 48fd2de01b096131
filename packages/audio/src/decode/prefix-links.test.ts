import { describe, expect, it } from 'vitest';
import {
  extendHash,
  type KeyedPrefix,
  PrefixCache,
  PrefixSet,
  sameSymbols,
  type TokenLink,
  tokensOf,
} from './prefix-links.js';

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

describe('PrefixCache', () => {
  it('finds values by symbols, keeps colliding hashes apart and drops the oldest beyond its limit', () => {
    const a = prefix([15, 24, 9, 27, 9, 15, 20, 26]);
    const b = prefix([15, 20, 5, 11, 9, 15, 28, 10]);
    const c = prefix([1, 2]);
    const cache = new PrefixCache<string>(2);
    cache.set(a.hash, a.last, 'a');
    cache.set(b.hash, b.last, 'b');
    expect([cache.get(a.hash, a.last), cache.get(b.hash, b.last), cache.size]).toEqual(['a', 'b', 2]);
    const aLater = prefix([15, 24, 9, 27, 9, 15, 20, 26], 40);
    expect(cache.get(aLater.hash, aLater.last)).toBe('a');
    cache.set(c.hash, c.last, 'c'); // a, the oldest, goes
    expect([cache.get(a.hash, a.last), cache.get(b.hash, b.last), cache.get(c.hash, c.last)]).toEqual([
      undefined,
      'b',
      'c',
    ]);
    // many more: the size stays at the limit, the newest two kept
    for (let i = 0; i < 500; i++) {
      const p = prefix([i % 29, (i * 7) % 29, i]);
      cache.set(p.hash, p.last, `p${i}`);
    }
    const last = prefix([499 % 29, (499 * 7) % 29, 499]);
    expect([cache.size, cache.get(last.hash, last.last), cache.get(c.hash, c.last)]).toEqual([
      2,
      'p499',
      undefined,
    ]);
    cache.clear();
    expect([cache.size, cache.get(last.hash, last.last)]).toEqual([0, undefined]);
  });
});
