/**
 * Spreading a plan's units over a few streams ("lanes") so that independent work runs at
 * the same time: a prefill's r, k and v GEMMs each fill a fraction of the GPU, and so do
 * the small LoRA products and the elementwise kernels beside them. Captured into a CUDA
 * graph, the lanes become parallel branches.
 *
 * What must stay ordered is found from memory, not from value names: two units conflict
 * when one writes bytes of the arena the other reads or writes. That covers the data flow
 * (read after write) and also the memory plan's reuse of a dead buffer's space (write
 * after read), views into a larger buffer and scratch memory. Weights are never written,
 * so they are left out. Any order on one lane is program order; across lanes a unit waits
 * for its conflicting predecessors unless it already knows them complete (vector clocks),
 * so the waits are few.
 */

/** Bytes [start, end) of a plan's arena that a unit reads or writes. */
export interface Access {
  readonly start: number;
  readonly end: number;
  readonly write: boolean;
}

/** What the scheduler knows of a unit: its arena accesses and a relative cost. */
export interface LaneWork {
  readonly accesses: readonly Access[];
  /** Estimated GPU time in any unit (only compared with other units' costs). */
  readonly cost: number;
}

/** Where each unit runs and what it waits for. */
export interface LaneSchedule {
  /** The lane of each unit (0 is the plan's own stream). */
  readonly lane: readonly number[];
  /** Per unit: earlier units on other lanes whose completion it waits for first. */
  readonly waits: readonly (readonly number[])[];
  /** Lanes used (1 + the highest lane index). */
  readonly lanesUsed: number;
}

interface Segment {
  start: number;
  end: number;
  writer: number;
  readers: number[];
}

/**
 * For each unit, the earlier units it conflicts with (it reads what they wrote, or writes
 * what they read or wrote), newest first. Segments of the arena carry their last writer
 * and the readers since; a unit's reads are applied before its writes.
 */
export function conflicts(units: readonly LaneWork[]): number[][] {
  const segs: Segment[] = []; // sorted, disjoint
  const firstAfter = (pos: number) => {
    let lo = 0;
    let hi = segs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (segs[mid]!.end <= pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // The segments exactly covering [start, end), split and created as needed.
  const cover = (start: number, end: number): Segment[] => {
    const out: Segment[] = [];
    let i = firstAfter(start);
    let pos = start;
    while (pos < end) {
      const s = segs[i];
      if (!s || s.start >= end) {
        const gap: Segment = { start: pos, end, writer: -1, readers: [] };
        segs.splice(i, 0, gap);
        out.push(gap);
        break;
      }
      if (s.start > pos) {
        const gap: Segment = { start: pos, end: s.start, writer: -1, readers: [] };
        segs.splice(i, 0, gap);
        out.push(gap);
        pos = s.start;
        i++;
        continue;
      }
      if (s.start < pos) {
        // split off the part before `pos`
        const head: Segment = { start: s.start, end: pos, writer: s.writer, readers: [...s.readers] };
        s.start = pos;
        segs.splice(i, 0, head);
        i++;
        continue;
      }
      if (s.end > end) {
        const tail: Segment = { start: end, end: s.end, writer: s.writer, readers: [...s.readers] };
        s.end = end;
        segs.splice(i + 1, 0, tail);
      }
      out.push(s);
      pos = s.end;
      i++;
    }
    return out;
  };
  return units.map((u, index) => {
    const deps = new Set<number>();
    const ordered = [...u.accesses].sort((a, b) => Number(a.write) - Number(b.write));
    for (const a of ordered) {
      if (a.end <= a.start) continue;
      for (const s of cover(a.start, a.end)) {
        if (s.writer >= 0) deps.add(s.writer);
        if (a.write) {
          for (const r of s.readers) deps.add(r);
          s.writer = index;
          s.readers = [];
        } else if (s.readers[s.readers.length - 1] !== index) s.readers.push(index);
      }
    }
    deps.delete(index);
    return [...deps].sort((a, b) => b - a);
  });
}

/**
 * Assigns units (in plan order, which is a valid order) to at most `lanes` lanes: each
 * goes where it can start earliest by the cost estimates (its conflicts' finish times
 * and the lane's own), preferring the lane of its latest conflict on a tie so that a
 * chain stays on one stream. `lanes` 1 puts everything on lane 0 with no waits.
 */
export function scheduleLanes(units: readonly LaneWork[], lanes: number): LaneSchedule {
  const k = Math.max(1, Math.floor(lanes));
  const n = units.length;
  if (k === 1)
    return { lane: new Array<number>(n).fill(0), waits: Array.from({ length: n }, () => []), lanesUsed: 1 };
  const deps = conflicts(units);
  const lane = new Array<number>(n).fill(0);
  const pos = new Array<number>(n).fill(0); // index within its lane
  const finish = new Array<number>(n).fill(0);
  const clocks: Int32Array[] = new Array(n);
  const all = k;
  const laneFree = new Array<number>(all).fill(0);
  const laneClock = Array.from({ length: all }, () => new Int32Array(all).fill(-1));
  const laneCount = new Array<number>(all).fill(0);
  const waits: number[][] = [];
  let lanesUsed = 1;
  /**
   * Puts unit u on lane l, waiting for those of `after` it is not yet ordered after (vector
   * clocks); returns the waits.
   */
  const place = (u: number, l: number, after: readonly number[]): number[] => {
    const vc = Int32Array.from(laneClock[l]!);
    const w: number[] = [];
    for (const x of after) {
      const lx = lane[x]!;
      if (lx === l || vc[lx]! >= pos[x]!) continue; // ordered already
      w.push(x);
      const cx = clocks[x]!;
      for (let j = 0; j < all; j++) if (cx[j]! > vc[j]!) vc[j] = cx[j]!;
    }
    lane[u] = l;
    pos[u] = laneCount[l]!++;
    vc[l] = pos[u]!;
    clocks[u] = vc;
    laneClock[l] = vc;
    return w;
  };
  for (let u = 0; u < n; u++) {
    const d = deps[u]!;
    const ready = d.reduce((m, x) => Math.max(m, finish[x]!), 0);
    const latest = d.reduce((m, x) => (m < 0 || finish[x]! > finish[m]! ? x : m), -1);
    let best = 0;
    let bestStart = Number.POSITIVE_INFINITY;
    for (let l = 0; l < k; l++) {
      const start = Math.max(ready, laneFree[l]!);
      const better =
        start < bestStart || (start === bestStart && latest >= 0 && lane[latest] === l && best !== l);
      if (better) {
        best = l;
        bestStart = start;
      }
    }
    const w = place(u, best, d);
    finish[u] = bestStart + Math.max(units[u]!.cost, 0);
    laneFree[best] = finish[u]!;
    waits.push(w);
    lanesUsed = Math.max(lanesUsed, best + 1);
  }
  return { lane, waits, lanesUsed };
}
