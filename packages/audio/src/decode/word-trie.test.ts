import { describe, expect, it } from 'vitest';
import { NO_NODE, type WordTrie, WordTrieBuilder } from './word-trie.js';

/** The trie of `words`, word i with id i. */
function build(words: readonly number[][]): WordTrie {
  const b = new WordTrieBuilder();
  words.forEach((w, id) => {
    b.add(w, w.length, id);
  });
  return b.finish();
}

describe('WordTrie', () => {
  const words = [[3, 4, 5], [3, 4], [3, 7, 5], [9]];
  const trie = build(words);
  const walk = (seq: readonly number[]): number =>
    seq.reduce((n, s) => (n === NO_NODE ? n : trie.child(n, s)), 0);

  it('ends each word at its own node, shares prefixes and has no other nodes', () => {
    words.forEach((w, id) => {
      expect(trie.wordId[walk(w)], `word ${id}`).toBe(id);
    });
    expect(trie.nodes).toBe(1 + 3 + 2 + 1); // root; c-d-e; f-e under c; i
    expect(trie.wordId[walk([3])]).toBe(-1); // a prefix, not a word
    expect(walk([3, 5])).toBe(NO_NODE);
    expect(walk([10])).toBe(NO_NODE);
  });

  it('keeps the later id of a sequence given twice, grows past its first capacity', () => {
    const b = new WordTrieBuilder(2);
    b.add([1, 2], 2, 0);
    b.add([1, 2, 3, 4], 3, 1); // only the first 3 symbols
    b.add([1, 2], 2, 2);
    const t = b.finish();
    expect(t.nodes).toBe(4);
    expect(t.wordId[t.child(t.child(0, 1), 2)]).toBe(2);
    expect(t.wordId[t.child(t.child(t.child(0, 1), 2), 3)]).toBe(1);
  });

  it('gives every node the best score of the words below it', () => {
    const best = trie.subtreeMax(Float64Array.of(-3, -1, -2, -5));
    expect(best[0]).toBe(-1);
    expect(best[walk([3])]).toBe(-1);
    expect(best[walk([3, 4, 5])]).toBe(-3);
    expect(best[walk([3, 7])]).toBe(-2);
    expect(best[walk([9])]).toBe(-5);
  });
});
