import { type Graph, GraphBuilder, hostTensor } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { elementwiseKernel, type FusedProgram, type FusedRef } from '../kernels/elementwise.js';
import { inferShapes } from './shapes.js';
import { fuseSiblings } from './sibling-fusion.js';
import { buildUnits, type Unit } from './units.js';

const C = 8;

/** A prefill's time-mix inputs: xx = shifted - x, then `n` mixes x + xx * mix_i, each into a Linear. */
function mixesGraph(n: number, opts: { xxReadElsewhere?: boolean; lateMix?: number } = {}): Graph {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', ['batch', 'time', C]);
  const shifted = b.input('shifted', 'float32', ['batch', 'time', C]);
  const xx = b.sub(shifted, x);
  const w = b.weight('w', hostTensor([C, C], new Float32Array(C * C)));
  let late = x;
  for (let i = 0; i < n; i++) {
    const mix = b.weight(`mix${i}`, hostTensor([C], new Float32Array(C)));
    // a mix that reads a value made after the first mix cannot move before it
    const base = opts.lateMix === i ? late : x;
    const y = b.linear(b.add(base, b.mul(xx, mix)), w);
    if (i === 0 && opts.lateMix !== undefined) late = b.sigmoid(b.layerNorm(y, null, null, 1e-5));
    b.output(`y${i}`, y);
  }
  if (opts.xxReadElsewhere) b.output('xx_norm', b.layerNorm(xx, null, null, 1e-5));
  return b.build();
}

function unitsOf(g: Graph, limits?: Parameters<typeof fuseSiblings>[3]): Unit[] {
  const shapes = inferShapes(
    g,
    new Map([
      ['x', [2, 5, C]],
      ['shifted', [2, 5, C]],
    ]),
    new Map(),
  );
  return fuseSiblings(buildUnits(g, shapes), g, shapes, limits);
}

const OPS: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Sigmoid: (a) => 1 / (1 + Math.exp(-a)),
};

/** Every node's value of a fused program for scalar leaves (elementwise: one element). */
function evaluate(p: FusedProgram, leaves: readonly number[]): number[] {
  const vals: number[] = [];
  const ref = (r: FusedRef) => ('leaf' in r ? leaves[r.leaf]! : vals[r.node]!);
  for (const n of p.nodes) vals.push(OPS[n.op]!(ref(n.args[0]!), n.args[1] ? ref(n.args[1]) : 0));
  return vals;
}

describe('sibling fusion', () => {
  it("merges a prefill's six mixes into one kernel and computes the shared difference inside it", () => {
    const g = mixesGraph(6);
    const before = (() => {
      const shapes = inferShapes(
        g,
        new Map([
          ['x', [2, 5, C]],
          ['shifted', [2, 5, C]],
        ]),
        new Map(),
      );
      return buildUnits(g, shapes);
    })();
    const after = unitsOf(g);
    const merged = after.filter((u) => u.kind === 'fusedMany');
    expect(merged).toHaveLength(1);
    const m = merged[0]!;
    expect(m.outputs).toHaveLength(6);
    expect(m.nodes.map((n) => n.op)).toEqual(['Sub', ...Array(6).fill(['Mul', 'Add']).flat()]);
    expect(m.inputs.map((v) => v.name).sort()).toEqual(
      ['shifted', 'x', 'mix0', 'mix1', 'mix2', 'mix3', 'mix4', 'mix5'].sort(),
    );
    // nothing elementwise is left but the merged kernel; the Linears follow it
    expect(after.filter((u) => u.kind === 'fused')).toHaveLength(0);
    expect(after.length).toBe(before.length - 6); // 7 elementwise units -> 1
    expect(after.indexOf(m)).toBeLessThan(
      after.findIndex((u) => u.kind === 'node' && u.node.op === 'Linear'),
    );

    // The merged program computes what the separate units do, result for result.
    const leafValue = new Map<string, number>();
    [...m.inputs].forEach((v, i) => {
      leafValue.set(v.name, Math.sin(i + 1) * 3);
    });
    const merged6 = evaluate(
      m.program,
      m.inputs.map((v) => leafValue.get(v.name)!),
    );
    const results = m.program.results!;
    const separate = new Map<string, number>();
    for (const u of before) {
      if (u.kind !== 'fused') continue;
      const v = evaluate(
        u.program,
        u.inputs.map((l) => leafValue.get(l.name) ?? separate.get(l.name)!),
      );
      separate.set(u.outputs[0].name, v[v.length - 1]!);
    }
    m.outputs.forEach((o, j) => {
      expect(merged6[results[j]!]).toBe(separate.get(o.name));
    });
  });

  it('keeps a producer that is read outside the merged kernel', () => {
    const after = unitsOf(mixesGraph(3, { xxReadElsewhere: true }));
    const m = after.find((u) => u.kind === 'fusedMany')!;
    expect(m.nodes.map((n) => n.op)).toEqual(['Mul', 'Add', 'Mul', 'Add', 'Mul', 'Add']);
    expect(after.filter((u) => u.kind === 'fused').map((u) => u.nodes.map((n) => n.op).join('+'))).toContain(
      'Sub',
    );
  });

  it('does not move a group before a value it reads', () => {
    const after = unitsOf(mixesGraph(3, { lateMix: 2 }));
    const m = after.find((u) => u.kind === 'fusedMany')!;
    expect(m.outputs).toHaveLength(2); // mixes 0 and 1; mix 2 reads what mix 0's Linear made
    // mix 2 stays a kernel of its own (with the Sigmoid fused into it)
    const rest = after
      .filter((u) => u.kind === 'fused')
      .map((u) =>
        u.nodes
          .map((n) => n.op)
          .sort()
          .join('+'),
      );
    expect(rest).toContain(['Add', 'Mul', 'Sigmoid'].join('+'));
  });

  it('stops at the limits', () => {
    const after = unitsOf(mixesGraph(6), { maxResults: 4, maxLeaves: 16, window: 24 });
    expect(after.filter((u) => u.kind === 'fusedMany').map((u) => u.outputs.length)).toEqual([4, 2]);
  });

  it('generates one kernel storing every result in its own type', () => {
    const m = unitsOf(mixesGraph(3)).find((u) => u.kind === 'fusedMany')!;
    const k = elementwiseKernel(m.program, { rank: 1, wide: false }, ['f16', 'f32', 'bf16']);
    expect(k.source).toContain('unsigned short* __restrict__ out0');
    expect(k.source).toContain('float* __restrict__ out1');
    expect(k.source).toMatch(/out0\[off0\] = rwkv_f32_to_f16\(t\d+\);/);
    expect(k.source).toMatch(/out2\[off2\] = rwkv_f32_to_bf16\(t\d+\);/);
    expect(k.source).toContain('in0[off3]'); // leaves after the three outputs
    expect(() => elementwiseKernel(m.program, { rank: 1, wide: false }, ['f32'])).toThrow(/3 results/);
  });
});
