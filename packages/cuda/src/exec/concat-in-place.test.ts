import { type Graph, GraphBuilder, hostTensor, type Value } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { callDims } from '../../test-support/call-dims.js';
import { recordingRuntime } from '../../test-support/recording-runtime.js';
import { smallRwkv7Graphs } from '../../test-support/rwkv7-graphs.js';
import { applyConcatsInPlace, concatsInPlace } from './concat-in-place.js';
import type { Buf } from './lower/context.js';
import { lowerConcat } from './lower/copy.js';
import { accumulateResiduals } from './residual-gemm.js';
import { inferShapes } from './shapes.js';
import { viewOwners } from './slice-alias.js';
import { buildUnits, type NodeUnit } from './units.js';

/**
 * Token-shift Concats written in place, checked without a GPU: which Concats of RWKV-7's
 * graphs the plan moves, and that the memory it lays out makes the skipped copy
 * unnecessary (the result read back from a host copy of the arena equals the Concat).
 */

const C = 128;
const { step, seq } = smallRwkv7Graphs(5);

function plan(g: Graph, batch: number, t: number) {
  const shapes = inferShapes(g, callDims(g, batch, t), new Map([['logits_from', t - 1]]));
  const units = buildUnits(g, shapes);
  const owners = viewOwners(units, shapes, new Map([['logits_from', t - 1]]));
  const weights = new Set(g.initializers.keys());
  const moves = concatsInPlace(
    units,
    g,
    shapes,
    owners,
    () => 'f32',
    (n) => weights.has(n),
  );
  return { shapes, units, owners, moves };
}

const concats = (g: Graph) => g.nodes.filter((n) => n.op === 'Concat').length;

describe('token-shift Concats in place', () => {
  it('moves x into both shifts of every layer of a batch-1 sequence, one row in', () => {
    const T = 7;
    const { units, owners, moves, shapes } = plan(seq, 1, T);
    expect(concats(seq)).toBe(4);
    expect(moves).toHaveLength(4);
    for (const m of moves) {
      expect(m.offset).toBe(C);
      expect(m.elements).toBe((T + 1) * C);
      expect(shapes.get(m.moved)).toEqual([1, T, C]);
      // the moved buffer is defined before the Concat that hosts it
      const def = units.findIndex((u) => u.outputs.some((o) => o.name === m.moved));
      const cat = units.findIndex((u) => u.outputs[0]!.name === m.concat.name);
      expect(def).toBeGreaterThanOrEqual(0);
      expect(def).toBeLessThan(cat);
    }
    applyConcatsInPlace(moves, owners);
    for (const m of moves) {
      expect(owners.root.get(m.moved)).toBe(m.concat.name);
      expect(owners.viewAt.get(m.moved)).toBe(C);
      // the shift's slice x[0 : T-1] and the new state x[T-1] are views of the host now
      const cat = units.find(
        (u): u is NodeUnit => u.kind === 'node' && u.outputs[0]!.name === m.concat.name,
      )!;
      expect(owners.root.get(cat.inputs[1]!.name)).toBe(m.concat.name);
      expect(owners.viewAt.get(cat.inputs[1]!.name)).toBe(C);
    }
    // the new state's x_prev is x's last row: the host's extra row, past the Concat's result
    const last = [...owners.viewAt].filter(([, at]) => at === T * C);
    expect(last.length).toBeGreaterThanOrEqual(4);
  });

  it('moves nothing where the inputs are not contiguous blocks (batch 3) or there is no Concat (a step)', () => {
    expect(plan(seq, 3, 7).moves).toHaveLength(0);
    expect(concats(step)).toBe(0);
    expect(plan(step, 1, 1).moves).toHaveLength(0);
  });

  for (const inPlace of [true, false])
    it(`lays out memory so that the copies left give the Concat (${inPlace ? 'moved: one copy' : 'not moved: both inputs copied'})`, () => {
      const T = 5;
      const { units, owners, moves, shapes } = plan(seq, 1, T);
      const hosts = inPlace ? applyConcatsInPlace(moves, owners) : new Map();
      // a host-side arena: every owner at its own base, hosts spanning their extra row
      const base = new Map<string, number>();
      let top = 0;
      const owner = (n: string) => owners.root.get(n) ?? n;
      const size = (n: string) => hosts.get(n)?.elements ?? shapes.get(n)!.reduce((a, b) => a * b, 1);
      for (const u of units)
        for (const v of [...u.inputs, ...u.outputs]) {
          const o = owner(v.name);
          if (!base.has(o)) {
            base.set(o, top);
            top += size(o) + 64; // a gap: a misplaced read would find other values' bytes
          }
        }
      const arena = new Float32Array(top).fill(-1);
      const at = (v: Value) => base.get(owner(v.name))! + (owners.viewAt.get(v.name) ?? 0);
      const ARENA = 1n << 32n;
      const bufs = new Map<string, Buf>();
      for (const u of units)
        for (const v of [...u.inputs, ...u.outputs])
          bufs.set(v.name, { ptr: ARENA + BigInt(at(v) * 4), dims: shapes.get(v.name)!, type: 'f32' });
      const rr = recordingRuntime(bufs, shapes);
      let seen = 0;
      for (const u of units) {
        if (u.kind !== 'node' || u.node.op !== 'Concat') continue;
        seen++;
        const [prev, head] = u.inputs as [Value, Value];
        const y = u.outputs[0]!;
        // what the units before it wrote: x (head is x[0 : T-1], a view from x's start) and prev
        const xAt = at(head);
        for (let i = 0; i < T * C; i++) arena[xAt + i] = Math.sin(i + 0.5);
        for (let i = 0; i < C; i++) arena[at(prev) + i] = 100 + i;
        const steps = lowerConcat(rr.ctx, u.node);
        expect(steps).toHaveLength(inPlace ? 1 : 2);
        // each copy run on the host copy of the arena, from its decoded pointers
        for (const [k, src] of [prev, head].entries()) {
          if (k >= steps.length) break;
          const { ptrs } = rr.launchOne(steps.slice(k, k + 1), 2);
          // the result's pointer, with the input's offset in it (k rows) in the encoded walk
          expect(ptrs[0]).toBe(bufs.get(y.name)!.ptr);
          expect(ptrs[1]).toBe(bufs.get(src.name)!.ptr);
          const dst = at(y) + k * C;
          const n = shapes.get(src.name)!.reduce((a, b) => a * b, 1);
          arena.copyWithin(dst, at(src), at(src) + n);
        }
        const expected = new Float32Array(T * C);
        for (let i = 0; i < C; i++) expected[i] = 100 + i;
        for (let i = 0; i < (T - 1) * C; i++) expected[C + i] = Math.fround(Math.sin(i + 0.5));
        expect(arena.slice(at(y), at(y) + T * C)).toEqual(expected);
        // x itself is intact after the Concat
        for (let i = 0; i < T * C; i++)
          if (arena[xAt + i] !== Math.fround(Math.sin(i + 0.5))) throw new Error(`x[${i}] changed`);
      }
      expect(seen).toBe(4);
    });
  it('moves nothing into a Concat whose result a GEMM accumulates into (it is overwritten in place)', () => {
    const b = new GraphBuilder('g');
    const a = b.input('a', 'float32', [1, 5, 8]);
    const prev = b.input('prev', 'float32', [1, 1, 8]);
    const o = b.sigmoid(a);
    const y = b.concat([prev, b.slice(o, 1, 0, -1, 4)], 1); // a token shift of o
    const p = b.linear(b.tanh(a), b.weight('w', hostTensor([8, 8], new Float32Array(64))));
    b.output('out', b.mul(b.layerNorm(b.add(y, p), null, null, 1e-5), o)); // o is read after the add
    const g = b.build();
    const shapes = inferShapes(
      g,
      new Map([
        ['a', [1, 5, 8]],
        ['prev', [1, 1, 8]],
      ]),
      new Map(),
    );
    const scalars = new Map<string, number>();
    const before = buildUnits(g, shapes);
    const owners0 = viewOwners(before, shapes, scalars);
    // alone, the shift moves o into the Concat's result
    expect(
      concatsInPlace(
        before,
        g,
        shapes,
        owners0,
        () => 'f32',
        (n) => n === 'w',
      ),
    ).toHaveLength(1);
    // with the add folded into the GEMM (y is its residual), the Concat's memory is
    // overwritten while o is still to be read: nothing moves
    const units = accumulateResiduals(
      before,
      g,
      shapes,
      () => true,
      () => true,
    );
    expect(units.some((u) => u.kind === 'linearAdd')).toBe(true);
    const owners = viewOwners(units, shapes, scalars);
    expect(
      concatsInPlace(
        units,
        g,
        shapes,
        owners,
        () => 'f32',
        (n) => n === 'w',
      ),
    ).toHaveLength(0);
  });
});
