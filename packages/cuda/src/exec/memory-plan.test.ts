import { describe, expect, it } from 'vitest';
import { ALIGN, MemoryPlanner } from './memory-plan.js';

describe('MemoryPlanner', () => {
  it('reuses the space of buffers whose last reader has run', () => {
    const p = new MemoryPlanner();
    const a = p.place(1000, 0, 1); // read by unit 1
    const b = p.place(1000, 1, 2);
    expect(b).not.toBe(a); // a is still read at unit 1
    const c = p.place(1000, 2, 3); // a is dead from unit 2 on
    expect(c).toBe(a);
    expect(p.arenaBytes).toBe(2 * 1024);
  });

  it('never overlaps live buffers, pinned ones included', () => {
    const p = new MemoryPlanner();
    const live: { off: number; bytes: number; from: number; until: number }[] = [];
    let seed = 1;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let at = 0; at < 300; at++) {
      const bytes = 1 + rnd(5000);
      const until = rnd(10) === 0 ? Number.POSITIVE_INFINITY : at + rnd(20);
      const off = p.place(bytes, at, until);
      expect(off % ALIGN).toBe(0);
      for (const l of live) {
        if (l.until < at) continue;
        const overlap = off < l.off + l.bytes && l.off < off + bytes;
        expect(overlap, `unit ${at}`).toBe(false);
      }
      live.push({ off, bytes, from: at, until });
    }
    const total = live.reduce((s, l) => s + Math.ceil(l.bytes / ALIGN) * ALIGN, 0);
    expect(p.arenaBytes).toBeLessThan(total / 2);
  });
});
