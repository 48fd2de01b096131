import { BadInputError } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { ContextGraph, type ContextState } from './context-graph.js';

/** Walks tokens through the graph: total bonus kept after finalizing. */
function total(g: ContextGraph, tokens: number[]): { running: number[]; final: number } {
  let s: ContextState = g.root;
  let sum = 0;
  const running: number[] = [];
  for (const t of tokens) {
    const r = g.step(s, t);
    sum += r.delta;
    s = r.state;
    running.push(sum);
  }
  return { running, final: sum + g.finalize(s) };
}

describe('hotword context graph', () => {
  const g = new ContextGraph([{ tokens: [1, 2] }, { tokens: [2, 3, 4] }], 1);

  it('keeps the bonus of a completed hotword and gives back a broken partial match', () => {
    expect(total(g, [1, 2]).final).toBeCloseTo(2); // "ab" complete: 2 tokens x 1
    expect(total(g, [1, 5]).final).toBeCloseTo(0); // "a" then broken
    expect(total(g, [1]).final).toBeCloseTo(0); // unfinished at the end
    expect(total(g, [5, 1, 2, 5]).final).toBeCloseTo(2);
  });

  it('follows failure links: a broken match can continue as another hotword', () => {
    // 1 2 3 4: "ab" completes (+2), then "b" "c" "d" continues as the second hotword (+3).
    expect(total(g, [1, 2, 3, 4]).final).toBeCloseTo(5);
    // 2 3 5: partial "bcd" broken: nothing kept.
    expect(total(g, [2, 3, 5]).final).toBeCloseTo(0);
  });

  it('uses a hotword own bonus, and rejects empty hotwords or negative bonuses', () => {
    const own = new ContextGraph([{ tokens: [7, 8], bonus: 3 }], 1);
    expect(total(own, [7, 8]).final).toBeCloseTo(6);
    expect(() => new ContextGraph([{ tokens: [] }])).toThrow(BadInputError);
    expect(() => new ContextGraph([], -1)).toThrow(/bonus/);
  });
});
