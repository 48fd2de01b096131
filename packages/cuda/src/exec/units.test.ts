import { GraphBuilder, hostTensor } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { elementwiseKernel } from '../kernels/elementwise.js';
import { inferShapes } from './shapes.js';
import { buildUnits, MAX_RECOMPUTE } from './units.js';

function lerpGraph() {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', ['batch', 'time', 8]);
  const prev = b.input('prev', 'float32', ['batch', 'time', 8]);
  const mix = b.weight('mix', hostTensor([8], new Float32Array(8)));
  const lerp = b.add(x, b.mul(b.sub(prev, x), mix));
  const ln = b.layerNorm(lerp, null, null, 1e-5);
  const gate = b.mul(b.sigmoid(ln), lerp); // lerp read twice: by the norm and the gate
  b.output('y', gate);
  return b.build();
}

describe('elementwise fusion', () => {
  it('fuses a chain into one unit and keeps values read outside it', () => {
    const g = lerpGraph();
    const shapes = inferShapes(
      g,
      new Map([
        ['x', [2, 3, 8]],
        ['prev', [2, 3, 8]],
      ]),
      new Map(),
    );
    const units = buildUnits(g, shapes);
    expect(units.map((u) => (u.kind === 'fused' ? u.nodes.map((n) => n.op).join('+') : u.node.op))).toEqual([
      'Sub+Mul+Add',
      'LayerNorm',
      'Sigmoid+Mul',
      'Identity', // the output's name: an alias, nothing runs
    ]);
    const first = units[0]!;
    expect(first.kind === 'fused' && first.inputs.map((v) => v.name)).toEqual(['prev', 'x', 'mix']);
    expect(buildUnits(g, shapes, false)).toHaveLength(7);
  });

  it('fuses a smaller member broadcast to the result up to MAX_RECOMPUTE times over, not beyond', () => {
    const fusedKinds = (rows: number) => {
      const b = new GraphBuilder('g');
      const x = b.input('x', 'float32', [rows, 8]);
      const v = b.input('v', 'float32', [8]);
      const e = b.exp(v); // [8]: its consumer's result is [rows, 8], so exp runs rows times over
      b.output('y', b.mul(x, e));
      const g = b.build();
      const shapes = inferShapes(
        g,
        new Map([
          ['x', [rows, 8]],
          ['v', [8]],
        ]),
        new Map(),
      );
      return buildUnits(g, shapes).map((u) => u.kind);
    };
    expect(MAX_RECOMPUTE).toBe(8);
    expect(fusedKinds(4)).toEqual(['fused', 'node']);
    expect(fusedKinds(8)).toEqual(['fused', 'node']);
    expect(fusedKinds(9)).toEqual(['fused', 'fused', 'node']);
  });

  it('with broadcast fusion off (maxRecompute 1) fuses equal shapes only, as before', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [1, 8]);
    const v = b.input('v', 'float32', [8]);
    b.output('y', b.mul(x, b.exp(v))); // [8] broadcasts to [1, 8] with as many elements
    const g = b.build();
    const shapes = inferShapes(
      g,
      new Map([
        ['x', [1, 8]],
        ['v', [8]],
      ]),
      new Map(),
    );
    expect(buildUnits(g, shapes, true, 1).map((u) => u.kind)).toEqual(['fused', 'fused', 'node']);
    expect(buildUnits(g, shapes).map((u) => u.kind)).toEqual(['fused', 'node']);
  });

  it('generates one kernel per expression and walk rank / index width, independent of sizes', () => {
    const p = { leaves: 2, nodes: [{ op: 'Mul' as const, args: [{ leaf: 0 }, { leaf: 1 }] }] };
    const narrow2 = { rank: 2, wide: false };
    const k1 = elementwiseKernel(p, narrow2);
    const k2 = elementwiseKernel({ ...p }, { ...narrow2 });
    expect(k1).toEqual(k2);
    expect(k1.source).toContain(`extern "C" __global__ void ${k1.name}(`);
    expect(k1.source).toContain('const float t0 = x0 * x1;');
    expect(k1.source).toContain('__umulhi');
    const names = [
      elementwiseKernel({ leaves: 1, nodes: [{ op: 'Softplus', args: [{ leaf: 0 }] }] }, narrow2).name,
      elementwiseKernel(p, { rank: 1, wide: false }).name,
      elementwiseKernel(p, { rank: 2, wide: true }).name,
    ];
    expect(new Set([k1.name, ...names]).size).toBe(4);
    // rank 1: offsets straight from the index, no division of any kind
    const flat = elementwiseKernel(p, { rank: 1, wide: false }).source;
    expect(flat).not.toMatch(/__umulhi|\/ g\.dims|%/);
  });
});

describe('shape inference for a call', () => {
  it('binds symbolic dims and checks fixed ones', () => {
    const g = lerpGraph();
    expect(() =>
      inferShapes(
        g,
        new Map([
          ['x', [2, 3, 8]],
          ['prev', [2, 4, 8]],
        ]),
        new Map(),
      ),
    ).toThrow(/binds 'time' to 4/);
    expect(() =>
      inferShapes(
        g,
        new Map([
          ['x', [2, 3, 7]],
          ['prev', [2, 3, 7]],
        ]),
        new Map(),
      ),
    ).toThrow(/expects/);
    expect(() => inferShapes(g, new Map([['x', [2, 3, 8]]]), new Map())).toThrow(/missing input 'prev'/);
  });
});
