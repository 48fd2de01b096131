import { GraphBuilder, hostTensor, type Value } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { recordingRuntime } from '../../test-support/recording-runtime.js';
import { smallRwkv7Graphs } from '../../test-support/rwkv7-graphs.js';
import { unitPipeline } from '../../test-support/unit-pipeline.js';
import { L2_PREFETCH } from '../kernels/l2-prefetch.js';
import { type LaneWork, scheduleLanes } from './lanes.js';
import type { Buf } from './lower/context.js';
import { lowerPrefetch } from './lower/prefetch.js';
import type { PrefetchUnit, Unit } from './units.js';
import { prefetchWeights } from './weight-prefetch.js';

/**
 * Weight prefetch checked without a GPU: where the pass puts the prefetches of a decode
 * step, that the lane schedule runs them on a lane of their own without delaying anything,
 * and the launches they lower to.
 */

const { step } = smallRwkv7Graphs(11);
const prefetches = (us: readonly Unit[]) => us.filter((u): u is PrefetchUnit => u.kind === 'prefetch');

describe('weight prefetch', () => {
  it('puts one prefetch of each GEMV group right after the group before it', () => {
    const { rows } = unitPipeline(step, 1, 1);
    const groups = rows.filter((u) => u.kind === 'gemv');
    expect(groups.length).toBeGreaterThan(4);
    const out = prefetchWeights(rows, () => 1000, 2500);
    const ps = prefetches(out);
    expect(ps).toHaveLength(groups.length);
    expect(out.filter((u) => u.kind !== 'prefetch')).toEqual(rows); // nothing else moves
    ps.forEach((p, j) => {
      const g = groups[j]!;
      if (g.kind !== 'gemv') throw new Error('not a group');
      expect(p.weights.map((w) => w.name)).toEqual(g.segments.map((s) => s.linear.inputs[1]!.name));
      expect(p.bytes).toBe(Math.min(1000 * g.segments.length, 2500));
      // before its group; right after the group before it (the first at the plan's start)
      expect(out.indexOf(p)).toBeLessThan(out.indexOf(g));
      if (j === 0) {
        expect(p.after).toBeUndefined();
        expect(out.indexOf(p)).toBe(0);
      } else {
        expect(p.after).toBe(groups[j - 1]);
        expect(out.indexOf(p)).toBe(out.indexOf(groups[j - 1]!) + 1);
      }
    });
  });

  it('schedules prefetches on a lane of their own, after their group, delaying nothing', () => {
    // a chain with a side branch: units write and read the arena; two prefetches beside them
    const w = (start: number, end: number, write: boolean) => ({ start, end, write });
    const chain: LaneWork[] = [
      { accesses: [w(0, 10, true)], cost: 5 }, // 0: a GEMV group
      { accesses: [w(0, 10, false), w(10, 20, true)], cost: 2 }, // 1
      { accesses: [w(0, 10, false), w(20, 30, true)], cost: 2 }, // 2: beside 1
      { accesses: [w(10, 30, false), w(30, 40, true)], cost: 5 }, // 3: the next group
    ];
    const withPrefetch: LaneWork[] = [
      { accesses: [], cost: 0, background: {} }, // before group 0
      chain[0]!,
      { accesses: [], cost: 0, background: { after: 1 } }, // after group 0, before group 3
      chain[1]!,
      chain[2]!,
      chain[3]!,
    ];
    const plain = scheduleLanes(chain, 4);
    const s = scheduleLanes(withPrefetch, 4);
    expect([s.lane[0], s.lane[2]]).toEqual([4, 4]);
    expect(s.lanesUsed).toBe(Math.max(plain.lanesUsed, 5));
    expect(s.waits[0]).toEqual([]);
    expect(s.waits[2]).toEqual([1]);
    // the other units keep their lanes and waits (renumbered), and none waits for a prefetch
    const map = [1, 3, 4, 5];
    expect(map.map((i) => s.lane[i])).toEqual(plain.lane);
    expect(map.map((i) => s.waits[i]!.map((x) => map.indexOf(x)))).toEqual(plain.waits);
    for (const ws of s.waits) expect(ws.some((x) => x === 0 || x === 2)).toBe(false);
  });

  it('lowers to one launch a weight until the byte budget is spent', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [1, 8]);
    const w1 = b.weight('w1', hostTensor([8, 8], new Float32Array(64)));
    const w2 = b.weight('w2', hostTensor([8, 8], new Float32Array(64)));
    const w3 = b.weight('w3', hostTensor([8, 8], new Float32Array(64)));
    b.output('y', b.add(b.linear(x, w1), b.add(b.linear(x, w2), b.linear(x, w3))));
    b.build();
    const bufs = new Map<string, Buf>([
      ['w1', { ptr: 0x10000n, dims: [1024, 64], type: 'f16' }], // 128 KiB
      ['w2', { ptr: 0x40000n, dims: [1024, 64], type: 'f16' }],
      ['w3', { ptr: 0x80000n, dims: [1024, 64], type: 'f16' }],
    ]);
    const rr = recordingRuntime(bufs, new Map([...bufs].map(([k, v]) => [k, v.dims])));
    const unit: PrefetchUnit = {
      kind: 'prefetch',
      weights: [w1, w2, w3] as Value[],
      bytes: 128 * 1024 + 1000,
      inputs: [],
      outputs: [],
    };
    const steps = lowerPrefetch(rr.ctx, unit);
    expect(steps).toHaveLength(2); // all of w1, 1000 bytes of w2, none of w3
    expect(rr.name()).toBe(L2_PREFETCH.name);
    const decoded = steps.map((s) => {
      const { params, ptrs } = rr.launchOne([s], 1);
      return [ptrs[0], params[1]!.readBigInt64LE(0)];
    });
    expect(decoded).toEqual([
      [0x10000n, 131072n],
      [0x40000n, 1000n],
    ]);
  });
});
