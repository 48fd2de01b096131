import { describe, expect, it } from 'vitest';
import { type Access, conflicts, type LaneSchedule, type LaneWork, scheduleLanes } from './lanes.js';

const read = (start: number, end: number): Access => ({ start, end, write: false });
const write = (start: number, end: number): Access => ({ start, end, write: true });

/** Conflicting pairs (i < j) by brute force over every pair of accesses. */
function bruteConflicts(units: readonly LaneWork[]): [number, number][] {
  const out: [number, number][] = [];
  for (let j = 0; j < units.length; j++)
    for (let i = 0; i < j; i++) {
      const hit = units[i]!.accesses.some((a) =>
        units[j]!.accesses.some(
          (b) =>
            (a.write || b.write) && a.start < b.end && b.start < a.end && a.end > a.start && b.end > b.start,
        ),
      );
      if (hit) out.push([i, j]);
    }
  return out;
}

/**
 * Whether unit i is complete before unit j starts under the schedule, the way the GPU
 * sees it: program order on one lane, a wait edge from another lane, and transitivity.
 */
function happensBefore(s: LaneSchedule, i: number, j: number): boolean {
  const n = s.lane.length;
  const prevOnLane = new Array<number>(n).fill(-1);
  const last = new Map<number, number>();
  for (let u = 0; u < n; u++) {
    prevOnLane[u] = last.get(s.lane[u]!) ?? -1;
    last.set(s.lane[u]!, u);
  }
  const seen = new Set<number>();
  const stack = [j];
  while (stack.length > 0) {
    const u = stack.pop()!;
    for (const p of [prevOnLane[u]!, ...s.waits[u]!]) {
      if (p < 0 || seen.has(p)) continue;
      if (p === i) return true;
      seen.add(p);
      stack.push(p);
    }
  }
  return false;
}

function randomUnits(seed: number, count: number): LaneWork[] {
  let x = seed;
  const rnd = (k: number) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % k;
  };
  return Array.from({ length: count }, () => {
    const accesses: Access[] = [];
    for (let a = 0, na = 1 + rnd(4); a < na; a++) {
      const start = rnd(64) * 16;
      accesses.push({ start, end: start + 16 * (1 + rnd(6)), write: rnd(3) === 0 });
    }
    return { accesses, cost: 1 + rnd(20) };
  });
}

describe('conflicts', () => {
  it('finds exactly the pairs that share written bytes, latest first', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const units = randomUnits(seed, 40);
      const found = conflicts(units);
      // every dependency it reports is a real conflict
      const brute = bruteConflicts(units);
      const set = new Set(brute.map(([i, j]) => `${i},${j}`));
      found.forEach((deps, j) => {
        for (const i of deps) expect(set.has(`${i},${j}`)).toBe(true);
        expect([...deps]).toEqual([...deps].sort((a, b) => b - a));
      });
    }
  });

  it('splits partly overlapping ranges', () => {
    const deps = conflicts([
      { accesses: [write(0, 100)], cost: 1 },
      { accesses: [write(50, 150)], cost: 1 },
      { accesses: [read(0, 10)], cost: 1 },
      { accesses: [read(120, 130)], cost: 1 },
      { accesses: [read(60, 70)], cost: 1 },
      { accesses: [write(0, 200)], cost: 1 },
    ]);
    // the last write also follows 0 (bytes 10..50: written by 0, read by nobody since)
    expect(deps).toEqual([[], [0], [0], [1], [1], [4, 3, 2, 1, 0]]);
  });
});

describe('scheduleLanes', () => {
  it('orders every conflicting pair (random programs, 1 to 5 lanes)', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const units = randomUnits(seed, 60);
      const pairs = bruteConflicts(units);
      for (const lanes of [1, 2, 3, 5]) {
        const s = scheduleLanes(units, lanes);
        expect(s.lanesUsed).toBeLessThanOrEqual(lanes);
        for (const [i, j] of pairs) {
          if (s.lane[i] === s.lane[j]) continue; // program order
          expect(happensBefore(s, i, j), `seed ${seed}, ${lanes} lanes: ${i} before ${j}`).toBe(true);
        }
        // a unit waits only for earlier units on other lanes
        s.waits.forEach((w, u) => {
          for (const x of w) {
            expect(x).toBeLessThan(u);
            expect(s.lane[x]).not.toBe(s.lane[u]);
          }
        });
      }
    }
  });

  it('runs independent products side by side and keeps a chain on one lane', () => {
    // a mix writes three inputs; three GEMMs read one each; a sum reads all three results
    const units: LaneWork[] = [
      { accesses: [write(0, 300)], cost: 5 },
      { accesses: [read(0, 100), write(1000, 1100)], cost: 50 },
      { accesses: [read(100, 200), write(1100, 1200)], cost: 50 },
      { accesses: [read(200, 300), write(1200, 1300)], cost: 50 },
      { accesses: [read(1000, 1300), write(2000, 2100)], cost: 5 },
      { accesses: [read(2000, 2100), write(2100, 2200)], cost: 5 },
    ];
    const s = scheduleLanes(units, 4);
    expect(new Set([s.lane[1], s.lane[2], s.lane[3]]).size).toBe(3);
    expect(s.lane[5]).toBe(s.lane[4]);
    expect(s.waits[5]).toEqual([]);
    // the sum waits for the two products not on its own lane, nothing more
    expect(s.waits[4]!.length).toBe(2);
    const one = scheduleLanes(units, 1);
    expect(one.lanesUsed).toBe(1);
    expect(one.waits.every((w) => w.length === 0)).toBe(true);
  });

  it('does not wait again for what a wait already covered', () => {
    // 0 on lane A; 1 and 2 read 0's output (two lanes); 3 reads both 1 and 2 and also 0
    const units: LaneWork[] = [
      { accesses: [write(0, 10)], cost: 1 },
      { accesses: [read(0, 10), write(10, 20)], cost: 10 },
      { accesses: [read(0, 10), write(20, 30)], cost: 10 },
      { accesses: [read(0, 30), write(30, 40)], cost: 1 },
    ];
    const s = scheduleLanes(units, 3);
    expect(s.lane[1]).not.toBe(s.lane[2]);
    // 3 is on 1's or 2's lane and waits only for the other one (which has seen 0)
    expect(s.waits[3]!.length).toBe(1);
  });
});

describe('lane count', () => {
  it('is the option, else RWKV_STREAMS_CUDA_LANES, else 4; 1-16, named when wrong', async () => {
    const { resolveLanes } = await import('./plan.js');
    const saved = process.env['RWKV_STREAMS_CUDA_LANES'];
    try {
      delete process.env['RWKV_STREAMS_CUDA_LANES'];
      expect(resolveLanes()).toBe(4);
      process.env['RWKV_STREAMS_CUDA_LANES'] = '1';
      expect(resolveLanes()).toBe(1);
      expect(resolveLanes(3)).toBe(3); // the option wins
      process.env['RWKV_STREAMS_CUDA_LANES'] = '16';
      expect(resolveLanes()).toBe(16);
      for (const bad of ['0', '17', '2.5', 'four']) {
        process.env['RWKV_STREAMS_CUDA_LANES'] = bad;
        expect(() => resolveLanes()).toThrow(
          `RWKV_STREAMS_CUDA_LANES must be an integer from 1 to 16, not '${bad}'`,
        );
      }
      for (const bad of [0, 17, 1.5, Number.NaN])
        expect(() => resolveLanes(bad)).toThrow(/lanes must be an integer from 1 to 16/);
    } finally {
      if (saved === undefined) delete process.env['RWKV_STREAMS_CUDA_LANES'];
      else process.env['RWKV_STREAMS_CUDA_LANES'] = saved;
    }
  });
});
