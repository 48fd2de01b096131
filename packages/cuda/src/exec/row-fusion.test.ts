import {
  decodeFloat16,
  encodeFloat16,
  type Graph,
  GraphBuilder,
  hostTensor,
  type Node,
  type Value,
} from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { callDims } from '../../test-support/call-dims.js';
import { evalElementwiseNode, HOST_OPS } from '../../test-support/host-elementwise.js';
import { hasNvcc, nvccPtx } from '../../test-support/nvcc.js';
import { recordingRuntime } from '../../test-support/recording-runtime.js';
import { smallRwkv7Graphs } from '../../test-support/rwkv7-graphs.js';
import { standInRuntime } from '../../test-support/stand-in-runtime.js';
import { unitPipeline } from '../../test-support/unit-pipeline.js';
import type { StoreType } from '../kernels/elementwise.js';
import { type RowProgram, type RowRef, rowFusedKernel, rowPhases } from '../kernels/row-fused.js';
import type { Buf } from './lower/context.js';
import { lowerRowFused, rowUnitGeometry } from './lower/row-fused.js';
import { Plan } from './plan.js';
import { fuseRows, ROW_LIMITS } from './row-fusion.js';
import { inferShapes, type ShapeMap } from './shapes.js';
import { fuseSiblings } from './sibling-fusion.js';
import { buildUnits, isAlias, type RowFusedUnit, type Unit } from './units.js';
import { DeviceWeights } from './weights.js';

/**
 * Row fusion checked without a GPU: which units the pass makes of RWKV-7's step and
 * sequence graphs, the values its programs compute (a host interpreter running the
 * kernel's phases, warp-order sum included) against the separate ops' arithmetic, and the
 * launch its lowering encodes (pointers, walk and columns decoded, the row loop run on the
 * host).
 */

const { step, seq } = smallRwkv7Graphs(3);

const pipeline = unitPipeline;

/** Units that launch something (aliases launch nothing). */
const kernels = (us: readonly Unit[]) => us.filter((u) => !(u.kind === 'node' && isAlias(u.node.op))).length;

/** Every value a unit reads is a graph input, a weight, or an output of an earlier unit. */
function expectStored(g: Graph, us: readonly Unit[]) {
  const made = new Set<string>();
  const computed = new Set(g.nodes.flatMap((n) => n.outputs.map((v) => v.name)));
  for (const u of us) {
    for (const v of u.inputs)
      if (computed.has(v.name)) expect(made.has(v.name), `${v.name} is stored before it is read`).toBe(true);
    for (const v of u.outputs) made.add(v.name);
  }
  for (const v of g.outputs) expect(made.has(v.name), `graph output ${v.name}`).toBe(true);
}

const counts: string[] = [];

describe('row fusion on RWKV-7 (2 layers, 128 x 64 heads)', () => {
  for (const [what, g, batch, t] of [
    ['step', step, 3, 1],
    ['sequence', seq, 3, 7],
  ] as const)
    it(`fuses both per-head sums of each layer with their chains (${what})`, () => {
      const { units, rows } = pipeline(g, batch, t);
      const rowUnits = rows.filter((u): u is RowFusedUnit => u.kind === 'rowFused');
      counts.push(
        `${what}: ${units.length} -> ${rows.length} units, ${kernels(units)} -> ${kernels(rows)} launching`,
      );
      console.log(counts[counts.length - 1]);
      expect(rowUnits).toHaveLength(4);
      const ops = rowUnits.map((u) => u.nodes.map((n) => n.op).join('+'));
      const norm = 'Mul+Mul+ReduceSum+Sqrt+Max+Div+Neg+Mul';
      // the bonus: ln_x's affine, r * k * r_k summed, times v, added; in a sequence also times g
      const bonus =
        what === 'step' ? 'Mul+Add+Mul+Mul+ReduceSum+Mul+Add' : 'Mul+Add+Mul+Mul+ReduceSum+Mul+Add+Mul';
      expect(ops).toEqual([norm, bonus, norm, bonus]);
      // -kk and kk * a stored for the Wkv7 op; the bonus's one result
      expect(rowUnits.map((u) => u.outputs.length)).toEqual([2, 1, 2, 1]);
      // no ReduceSum is left as a node; a layer's 7 launches of the norm and 3 of the bonus
      // (4 in a sequence, where * g is not a GEMV prologue) become 2
      expect(rows.some((u) => u.kind === 'node' && u.node.op === 'ReduceSum')).toBe(false);
      expect(kernels(units) - kernels(rows)).toBe(what === 'step' ? 2 * (6 + 2) : 2 * (6 + 3));
      expectStored(g, rows);
      expectStored(g, units);
    });

  it('finds the same chains with float32 weights and at batch 64, and leaves sibling fusion its part', () => {
    for (const [g, batch, t, wt] of [
      [step, 3, 1, 'f32'],
      [seq, 3, 40, 'f32'],
      [step, 64, 1, 'f16'],
    ] as const) {
      const { shapes, rows } = pipeline(g, batch, t, wt);
      const rowUnits = rows.filter((u): u is RowFusedUnit => u.kind === 'rowFused');
      // no GEMV takes * g here (float32 weights run no GEMV; 64 rows are past GEMV_MAX_ROWS):
      // the bonus takes it, 8 nodes like the norm
      expect(rowUnits.map((u) => u.nodes.length)).toEqual([8, 8, 8, 8]);
      // sibling fusion runs after it (as in plan.ts) and everything read is still stored
      const both = fuseSiblings(rows, g, shapes);
      expect(both.filter((u) => u.kind === 'rowFused')).toHaveLength(4);
      expectStored(g, both);
    }
  });

  it('keeps a sequence bonus result in half precision for its cuBLAS Linear', () => {
    const { half, rows } = pipeline(seq, 3, 7);
    const bonus = rows.filter((u): u is RowFusedUnit => u.kind === 'rowFused' && u.outputs.length === 1);
    expect(bonus.map((u) => half.get(u.outputs[0]!.name))).toEqual(['f16', 'f16']);
  });
});

// ---- host interpreters --------------------------------------------------------------------

const OPS = HOST_OPS;

/** The graph's arithmetic, node by node (float32 each op, sums in order), into `vals`. */
function evalNodes(nodes: readonly Node[], shapes: ShapeMap, vals: Map<string, Float32Array>) {
  const numel = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);
  for (const n of nodes) {
    const out = shapes.get(n.outputs[0]!.name)!;
    const y = new Float32Array(numel(out));
    if (isAlias(n.op)) y.set(vals.get(n.inputs[0]!.name)!);
    else if (n.op === 'LayerNorm') layerNormRows(vals.get(n.inputs[0]!.name)!, y, out[out.length - 1]!, n);
    else if (n.op === 'ReduceSum') {
      const x = vals.get(n.inputs[0]!.name)!;
      const dims = shapes.get(n.inputs[0]!.name)!;
      const len = dims[dims.length - 1]!;
      for (let r = 0; r < y.length; r++) {
        let s = 0;
        for (let j = 0; j < len; j++) s = Math.fround(s + x[r * len + j]!);
        y[r] = s;
      }
    } else y.set(evalElementwiseNode(n, vals, shapes, (len) => new Float32Array(len)));
    vals.set(n.outputs[0]!.name, y);
  }
}

/** LayerNorm without weight or bias as kernels/layer-norm.ts computes it (float32, two passes, sums in order). */
function layerNormRows(x: Float32Array, y: Float32Array, len: number, n: Node) {
  expect(n.inputs.length).toBe(1);
  const eps = Math.fround(n.attrs['epsilon'] as number);
  for (let r = 0; r < x.length / len; r++) {
    let s = 0;
    for (let j = 0; j < len; j++) s = Math.fround(s + x[r * len + j]!);
    const mean = Math.fround(s / len);
    let q = 0;
    for (let j = 0; j < len; j++) {
      const d = Math.fround(x[r * len + j]! - mean);
      q = Math.fround(q + Math.fround(d * d));
    }
    const rstd = Math.fround(1 / Math.sqrt(Math.fround(Math.fround(q / len) + eps)));
    for (let j = 0; j < len; j++) y[r * len + j] = Math.fround(Math.fround(x[r * len + j]! - mean) * rstd);
  }
}

/** A row kernel's launch as numbers: the walk over rows, columns, and each operand's memory. */
interface Launch {
  readonly dims: readonly number[];
  readonly strides: readonly (readonly number[])[];
  readonly cols: readonly number[];
  readonly len: number;
  /** outputs, then leaves */
  readonly mem: readonly Float32Array[];
  readonly outTypes: readonly StoreType[];
}

/** The kernel's loop on the host: per row, the phases in the kernel's order, the sum as 32 lanes and the xor shuffles. */
function runRows(p: RowProgram, l: Launch) {
  const { before, passes, phase2, kinds } = rowPhases(p);
  const K = p.results.length;
  const rows = l.dims.reduce((a, b) => a * b, 1);
  const round = (x: number, t: StoreType) =>
    t === 'f16' ? decodeFloat16(encodeFloat16(Float32Array.of(x)))[0]! : Math.fround(x);
  for (let r = 0; r < rows; r++) {
    const off = l.strides.map(() => 0);
    let rem = r;
    for (let d = l.dims.length - 1; d >= 0; d--) {
      const c = d === 0 ? rem : rem % l.dims[d]!;
      rem = Math.floor(rem / l.dims[d]!);
      l.strides.forEach((s, k) => {
        off[k]! += c * s[d]!;
      });
    }
    const t: number[] = [];
    const leafAt = (k: number, j: number) =>
      p.leaves[k] === 'row' ? l.mem[K + k]![off[K + k]!]! : l.mem[K + k]![off[K + k]! + j * l.cols[K + k]!]!;
    const ref = (a: RowRef, j: number) =>
      'literal' in a ? Math.fround(a.literal) : 'leaf' in a ? leafAt(a.leaf, j) : t[a.node]!;
    const run = (js: readonly number[], j: number) => {
      for (const i of js) {
        const n = p.nodes[i]!;
        t[i] = Math.fround(OPS[n.op]!(ref(n.args[0]!, j), n.args[1] ? ref(n.args[1], j) : 0));
      }
    };
    run(before, 0);
    for (const { sum, nodes, after } of passes) {
      const lanes = new Array<number>(32).fill(0);
      const arg = p.nodes[sum]!.args[0]!;
      for (let j = 0; j < l.len; j++) {
        run(nodes, j);
        lanes[j % 32] = Math.fround(lanes[j % 32]! + ref(arg, j));
      }
      for (let m = 16; m > 0; m >>= 1) {
        const prev = [...lanes];
        for (let q = 0; q < 32; q++) lanes[q] = Math.fround(prev[q]! + prev[q ^ m]!);
      }
      t[sum] = lanes[0]!;
      run(after, 0);
    }
    p.results.forEach((res, k) => {
      if (kinds[res] === 'row') l.mem[k]![off[k]!] = round(t[res]!, l.outTypes[k]!);
    });
    for (let j = 0; j < l.len; j++) {
      run(phase2, j);
      p.results.forEach((res, k) => {
        if (kinds[res] === 'elem') l.mem[k]![off[k]! + j * l.cols[k]!] = round(t[res]!, l.outTypes[k]!);
      });
    }
  }
}

/** Random float32 data for every value a unit reads; the reference values of every value it stores. */
function reference(g: Graph, shapes: ShapeMap, unit: RowFusedUnit, seed: number) {
  const vals = new Map<string, Float32Array>();
  unit.inputs.forEach((v, k) => {
    const n = shapes.get(v.name)!.reduce((a, b) => a * b, 1);
    vals.set(
      v.name,
      Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 0.77 + k * 1.3 + seed) * 1.5)),
    );
  });
  const inside = new Set([...unit.nodes, ...unit.aliases]);
  evalNodes(
    g.nodes.filter((n) => inside.has(n)),
    shapes,
    vals,
  );
  return vals;
}

/**
 * Within `rel` of the reference (relative to max(1, |value|)), or half a float16 step for
 * half results. The reference sums a row in order, the kernel in 32 lane partials and a
 * shuffle tree: float32 sums of 64 terms of these magnitudes (|x| <= ~3.4 after the
 * prologue's products) reordered differ by ~1e-6 of the result; 1e-5 leaves room, and a
 * swapped operand or pointer misses it by orders of magnitude.
 */
function expectClose(got: Float32Array, want: Float32Array, what: string, rel = 1e-5, halfOut = false) {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const tol = (halfOut ? 1e-3 : rel) * Math.max(1, Math.abs(want[i]!));
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / tol);
  }
  expect(worst, `${what}: worst error in tolerances`).toBeLessThanOrEqual(1);
}

/**
 * Runs a row unit's program on the host (the kernel's order) over reference inputs and
 * checks its results against the separate ops within 1e-5 (half results within 1e-3).
 */
function expectUnitMatchesOps(
  g: Graph,
  shapes: ShapeMap,
  half: ReturnType<typeof pipeline>['half'],
  unit: RowFusedUnit,
  seed: number,
  what: string,
) {
  const vals = reference(g, shapes, unit, seed);
  const geo = rowUnitGeometry(unit, (v) => shapes.get(v.name)!);
  const outTypes = unit.outputs.map((o) => (half.get(o.name) ?? 'f32') as StoreType);
  const mem = [
    ...unit.outputs.map((o) => new Float32Array(vals.get(o.name)!.length).fill(Number.NaN)),
    ...unit.leafViews.map((l) => vals.get(unit.inputs[l.input]!.name)!),
  ];
  runRows(unit.program, { ...geo, dims: geo.walk.dims, strides: geo.walk.strides, mem, outTypes });
  unit.outputs.forEach((o, k) => {
    expectClose(mem[k]!, vals.get(o.name)!, `${what} ${o.name}`, 1e-5, outTypes[k] === 'f16');
  });
}

describe('row programs on the host', () => {
  for (const [what, g, batch, t] of [
    ['step', step, 3, 1],
    ['sequence', seq, 2, 5],
  ] as const)
    it(`compute what the separate ops do, broadcast leaves and half results included (${what})`, () => {
      const { shapes, rows, half } = pipeline(g, batch, t);
      const rowUnits = rows.filter((u): u is RowFusedUnit => u.kind === 'rowFused');
      expect(rowUnits.length).toBe(4);
      // the units read parameters broadcast ([1, 1, C], [1, C], [H, N]) and a scalar per row (eps)
      const leafDims = rowUnits.flatMap((u) => u.inputs.map((v) => shapes.get(v.name)!.join('x')));
      expect(leafDims).toEqual(expect.arrayContaining(['1x1x128', '1x128', '2x64', '']));
      rowUnits.forEach((unit, n) => {
        expectUnitMatchesOps(g, shapes, half, unit, n, what);
      });
    });
});

// ---- the lowering ---------------------------------------------------------------------------

/** Lowers a row unit against host memory and decodes its launch. */
function lowered(
  unit: RowFusedUnit,
  shapes: ShapeMap,
  vals: Map<string, Float32Array>,
  types: Map<string, StoreType>,
) {
  const bufs = new Map<string, Buf>();
  const mem = new Map<bigint, Float32Array>();
  let next = 0x1000n;
  const place = (v: Value, data: Float32Array, type: Buf['type']) => {
    const ptr = next;
    next += 0x100000n;
    mem.set(ptr, data);
    bufs.set(v.name, { ptr, dims: shapes.get(v.name)!, type });
  };
  for (const v of unit.inputs) place(v, vals.get(v.name)!, 'f32');
  for (const v of unit.outputs)
    place(v, new Float32Array(vals.get(v.name)!.length).fill(Number.NaN), types.get(v.name) ?? 'f32');
  const recorder = recordingRuntime(bufs, shapes);
  const K = unit.outputs.length;
  const L = unit.leafViews.length;
  const { params, ptrs } = recorder.launchOne(lowerRowFused(recorder.ctx, unit), K + L);
  expect(params).toHaveLength(K + L + 2);
  // narrow walk: n, dims[R], magic[R], shift[R], strides[K+L][R], offsets[K+L]; cols: len, cols[K+L]
  const R = Number(/_r(\d)n$/.exec(recorder.name())?.[1]);
  expect(R).toBeGreaterThanOrEqual(1);
  const walk = params[K + L]!;
  const dims = Array.from({ length: R }, (_, d) => walk.readUInt32LE(4 * (1 + d)));
  const strides = Array.from({ length: K + L }, (_, k) =>
    Array.from({ length: R }, (_, d) => walk.readInt32LE(4 * (1 + 3 * R + k * R + d))),
  );
  const colsBuf = params[K + L + 1]!;
  const len = colsBuf.readInt32LE(0);
  const cols = Array.from({ length: K + L }, (_, k) => colsBuf.readInt32LE(4 * (1 + k)));
  return { source: recorder.source(), name: recorder.name(), ptrs, mem, bufs, dims, strides, cols, len, K };
}

/** Runs `p` on the host over a lowered launch's geometry, reading and writing `mem`. */
function runLowered(
  p: RowProgram,
  l: ReturnType<typeof lowered>,
  mem: Float32Array[],
  outTypes: StoreType[] = ['f32', 'f32'],
) {
  runRows(p, { dims: l.dims, strides: l.strides, cols: l.cols, len: l.len, mem, outTypes });
}

describe('a row unit as lowered', () => {
  it('passes outputs then leaves, a walk over rows and the columns, and its row loop computes the chain', () => {
    const { shapes, rows, half } = pipeline(seq, 2, 5);
    const units = rows.filter((u): u is RowFusedUnit => u.kind === 'rowFused');
    for (const [n, unit] of units.entries()) {
      const vals = reference(seq, shapes, unit, 10 + n);
      const types = new Map(unit.outputs.map((o) => [o.name, (half.get(o.name) ?? 'f32') as StoreType]));
      const l = lowered(unit, shapes, vals, types);
      expect(l.ptrs).toEqual([
        ...unit.outputs.map((v) => l.bufs.get(v.name)!.ptr),
        ...unit.leafViews.map((v) => l.bufs.get(unit.inputs[v.input]!.name)!.ptr),
      ]);
      expect(l.len).toBe(64);
      expect(l.source).toContain('__shfl_xor_sync');
      unit.outputs.forEach((o, j) => {
        if (types.get(o.name) === 'f16')
          expect(l.source).toContain(`out${j}[off${j} + j * (unsigned)rc.cols[${j}]] = rwkv_f32_to_f16(`);
      });
      const outTypes = unit.outputs.map((o) => types.get(o.name)!);
      const mem = l.ptrs.map((p) => l.mem.get(p)!);
      runLowered(unit.program, l, mem, outTypes);
      unit.outputs.forEach((o, k) => {
        expectClose(mem[k]!, vals.get(o.name)!, o.name, 1e-5, outTypes[k] === 'f16');
      });
    }
  });

  it('fails when an operand order is swapped (the norm divides x by it, not it by x)', () => {
    const { shapes, rows } = pipeline(step, 3, 1);
    const unit = rows.find((u): u is RowFusedUnit => u.kind === 'rowFused' && u.outputs.length === 2)!;
    const vals = reference(step, shapes, unit, 1);
    const l = lowered(unit, shapes, vals, new Map());
    const div = unit.program.nodes.findIndex((n) => n.op === 'Div');
    const swapped: RowProgram = {
      ...unit.program,
      nodes: unit.program.nodes.map((n, j) => (j === div ? { ...n, args: [n.args[1]!, n.args[0]!] } : n)),
    };
    const mem = l.ptrs.map((p) => l.mem.get(p)!);
    const run = (p: RowProgram) => runLowered(p, l, mem);
    run(unit.program);
    expectClose(mem[0]!, vals.get(unit.outputs[0]!.name)!, 'as lowered');
    run(swapped);
    expect(() => expectClose(mem[0]!, vals.get(unit.outputs[0]!.name)!, 'swapped')).toThrow();
    // and swapping two leaves' pointers (k and k_k: [B, 1, C] and [1, 1, C]) breaks it too
    const K = unit.outputs.length;
    const leafMem = [...mem];
    [leafMem[K], leafMem[K + 1]] = [mem[K + 1]!, mem[K]!];
    expect(() => runLowered(unit.program, l, leafMem)).not.toThrow();
    expect(() => expectClose(leafMem[0]!, vals.get(unit.outputs[0]!.name)!, 'leaves swapped')).toThrow();
  });
});

describe('row kernels', () => {
  it('compile once per program shape: the same source at other batch sizes and lengths', () => {
    const sources = [
      [3, 1],
      [5, 1],
      [2, 9],
    ].map(([b, t]) => {
      const g = t === 1 ? step : seq;
      const { shapes, rows, half } = pipeline(g, b!, t!);
      const unit = rows.find((u): u is RowFusedUnit => u.kind === 'rowFused')!;
      const vals = reference(g, shapes, unit, 0);
      const types = new Map(unit.outputs.map((o) => [o.name, (half.get(o.name) ?? 'f32') as StoreType]));
      return lowered(unit, shapes, vals, types).source;
    });
    expect(sources[1]).toBe(sources[0]);
    expect(sources[2]).toBe(sources[0]);
  });
});

// ---- small graphs: what the pass takes and where it stops ------------------------------------

/** Units of a small graph without GEMVs or half values, before and after row fusion. */
function small(g: Graph, inputs: Record<string, number[]>) {
  const shapes = inferShapes(g, new Map(Object.entries(inputs)), new Map());
  const units = buildUnits(g, shapes);
  return { shapes, units, rows: fuseRows(units, g, shapes) };
}

const param = (b: GraphBuilder, name: string, dims: number[]) =>
  b.weight(
    name,
    hostTensor(
      dims,
      Float32Array.from({ length: dims.reduce((p, q) => p * q, 1) }, (_, i) => Math.cos(i)),
    ),
  );

describe('row fusion of small graphs', () => {
  it('stores a sum and a product, with a per-row leaf and a [N] leaf, computed as the ops do', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['batch', 3, 40]);
    const scale = b.input('scale', 'float32', ['batch', 3, 1]);
    const w = param(b, 'w', [40]);
    const s = b.reduceSum(b.mul(x, w), [-1], true);
    b.output('s', s);
    b.output('y', b.mul(b.add(x, w), b.mul(s, scale)));
    const g = b.build();
    const { shapes, units, rows } = small(g, { x: [2, 3, 40], scale: [2, 3, 1] });
    // Mul, ReduceSum, Identity s, Mul (s * scale), Add+Mul, Identity y
    expect(units.length).toBe(6);
    const unit = rows.find((u): u is RowFusedUnit => u.kind === 'rowFused')!;
    // the graph outputs' Identity nodes (read before the epilogue ran) move after the row unit
    expect(rows.map((u) => (u.kind === 'node' ? u.node.op : u.kind))).toEqual([
      'rowFused',
      'Identity',
      'Identity',
    ]);
    // it stores the sum and the product, which the kept Identity nodes name as s and y
    expect(unit.outputs.map((v) => v.name)).toEqual(rows.slice(1).map((u) => u.inputs[0]!.name));
    expect(unit.program.leaves).toContain('row'); // scale, once a row
    expectStored(g, rows);
    const vals = reference(g, shapes, unit, 3);
    const l = lowered(unit, shapes, vals, new Map());
    // rows of 40: lanes 0..7 take two elements, the others one
    expect(l.len).toBe(40);
    const mem = l.ptrs.map((p) => l.mem.get(p)!);
    runLowered(unit.program, l, mem);
    unit.outputs.forEach((o, k) => {
      expectClose(mem[k]!, vals.get(o.name)!, o.name);
    });
  });

  it('leaves a producer out when another unit reads it before the row kernel could run', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['batch', 2, 16]);
    const a = b.mul(x, param(b, 'w', [16]));
    const ln = b.layerNorm(a, null, null, 1e-5); // reads a between a and the sum
    const s = b.reduceSum(b.mul(a, a), [-1], true);
    b.output('y', b.add(b.div(a, s), ln));
    const g = b.build();
    const { rows } = small(g, { x: [3, 2, 16] });
    const unit = rows.find((u): u is RowFusedUnit => u.kind === 'rowFused')!;
    expect(unit.inputs.map((v) => v.name)).toContain(a.name);
    expect(rows.some((u) => u.kind === 'fused' && u.outputs[0].name === a.name)).toBe(true);
    expect(rows.indexOf(unit)).toBeGreaterThan(
      rows.findIndex((u) => u.kind === 'node' && u.node.op === 'LayerNorm'),
    );
    expectStored(g, rows);
  });

  it("stops at a reshape whose rows are not runs of its input's dims (one kernel more)", () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['batch', 6, 16]);
    const p = b.mul(x, param(b, 'w', [16])); // [B, 6, 16]: the weight repeats every 16
    const r = b.reshape(p, ['batch', 4, 24]); // rows of 24 straddle the 16s
    b.output('y', b.sqrt(b.reduceSum(r, [-1], true)));
    const g = b.build();
    const { units, rows } = small(g, { x: [2, 6, 16] });
    const unit = rows.find((u): u is RowFusedUnit => u.kind === 'rowFused')!;
    expect(unit.nodes.map((n) => n.op)).toEqual(['ReduceSum', 'Sqrt']);
    expect(unit.inputs.map((v) => v.name)).toEqual([r.name]);
    // the Mul stays a kernel of its own: 3 launches become 2, not 1
    expect(rows.filter((u) => u.kind === 'fused').map((u) => u.nodes.map((n) => n.op).join('+'))).toEqual([
      'Mul',
    ]);
    expect(kernels(units) - kernels(rows)).toBe(1);
  });

  it('absorbs a reshape whose rows are runs of its input ([B, 96] as [B, 3, 32])', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['batch', 96]);
    const p = b.mul(x, param(b, 'w', [96]));
    const r = b.reshape(p, ['batch', 3, 32]);
    b.output('y', b.neg(b.reduceSum(r, [-1], true)));
    const g = b.build();
    const { shapes, rows } = small(g, { x: [2, 96] });
    expect(rows.map((u) => (u.kind === 'node' ? u.node.op : u.kind))).toEqual(['rowFused', 'Identity']);
    const unit = rows[0] as RowFusedUnit;
    expect(unit.aliases.map((n) => n.op)).toEqual(['Reshape']);
    const vals = reference(g, shapes, unit, 5);
    const geo = rowUnitGeometry(unit, (v) => shapes.get(v.name)!);
    expect(geo.cols).toEqual([0, 1, 1]); // per-row output, x, w
    const mem = [
      new Float32Array(6).fill(Number.NaN),
      ...unit.leafViews.map((l) => vals.get(unit.inputs[l.input]!.name)!),
    ];
    runRows(unit.program, { ...geo, dims: geo.walk.dims, strides: geo.walk.strides, mem, outTypes: ['f32'] });
    expectClose(mem[0]!, vals.get(unit.outputs[0]!.name)!, 'y');
  });
});

describe('row kernel sources', () => {
  it.skipIf(!hasNvcc)(
    'compile without warnings (nvcc -ptx for sm_90; NVRTC takes the same C++), narrow and wide, float32 and half results',
    () => {
      const { shapes, rows } = pipeline(seq, 3, 7);
      for (const unit of rows.filter((u): u is RowFusedUnit => u.kind === 'rowFused').slice(0, 2)) {
        const geo = rowUnitGeometry(unit, (v) => shapes.get(v.name)!);
        for (const [wide, t] of [
          [false, 'f16'],
          [true, 'bf16'],
        ] as const) {
          const k = rowFusedKernel(
            unit.program,
            { rank: geo.ix.rank, wide },
            unit.outputs.map((_, j) => (j === 0 ? t : 'f32')),
          );
          nvccPtx(k.source);
        }
      }
    },
    60_000,
  );
});

describe('a plan with row fusion (built with a stand-in runtime, no GPU)', () => {
  for (const [what, g, t, fewer] of [
    ['step', step, 1, 16],
    ['sequence', seq, 7, 18],
  ] as const)
    it(`has ${fewer} fewer steps at 2 layers (${what}), memory for every value, reshapes of stored values as views`, () => {
      const rt = standInRuntime();
      const weights = DeviceWeights.upload(rt, [g], 'float16');
      const scalars = new Map([['logits_from', t - 1]]);
      const shapes = inferShapes(g, callDims(g, 3, t), scalars);
      const [off, on] = [false, true].map((fuseRows) =>
        Plan.build(rt, g, shapes, weights, scalars, {
          fuseRows,
          fuseRowNorms: false,
          fuseRowSiblings: false,
          lanes: 4,
          fuseSiblings: false,
          // (the one-step Wkv7 would take the L2 norm's row unit into its kernel)
          wkv7RowPrologue: false,
        }),
      );
      expect(off!.units.some((u) => u.kind === 'rowFused')).toBe(false);
      const rowUnits = on!.units.filter((u): u is RowFusedUnit => u.kind === 'rowFused');
      expect(rowUnits).toHaveLength(4);
      expect(off!.steps.length - on!.steps.length).toBe(fewer);
      expect(on!.steps.filter((s) => s.label.startsWith('rows ')).length).toBe(4);
      // every stored result has memory; a reshape read outside is a view of it (same pointer)
      for (const u of rowUnits) for (const o of u.outputs) expect(on!.buffers.get(o.name)).toBeDefined();
      const kept = on!.units.filter(
        (u, i) =>
          u.kind === 'node' &&
          isAlias(u.node.op) &&
          on!.units[i - 1]!.kind === 'rowFused' &&
          u.node.op === 'Reshape',
      );
      // the step's bonus is read by its GEMV as [B, T, C] (one reshape a layer, kept); a
      // sequence's bonus takes * g inside and stores that, in float16 for cuBLAS
      expect(kept.length).toBe(what === 'step' ? 2 : 0);
      const bonusTypes = rowUnits
        .filter((u) => u.outputs.length === 1)
        .map((u) => on!.buffers.get(u.outputs[0]!.name)!.type);
      expect(bonusTypes).toEqual(what === 'step' ? ['f32', 'f32'] : ['f16', 'f16']);
      for (const u of kept)
        expect(on!.buffers.get(u.outputs[0]!.name)!.ptr).toBe(on!.buffers.get(u.inputs[0]!.name)!.ptr);
      off!.dispose();
      on!.dispose();
    });
});

// ---- LayerNorms folded into row units (fuseRowNorms) ------------------------------------------

/** The pipeline's units with row fusion folding norms, as with PlanOptions.fuseRowNorms. */
function withNorms(g: Graph, batch: number, t: number) {
  const p = pipeline(g, batch, t);
  return { ...p, folded: fuseRows(p.units, g, p.shapes, ROW_LIMITS, { foldNorms: true }) };
}

/** LayerNorm units whose rows are `len` long. */
const normsOf = (us: readonly Unit[], shapes: ShapeMap, len: number) =>
  us.filter((u) => {
    if (u.kind !== 'node' || u.node.op !== 'LayerNorm') return false;
    const d = shapes.get(u.node.inputs[0]!.name)!;
    return d[d.length - 1] === len;
  });

describe('row programs of several sums', () => {
  // mean, centred square, variance: the sums in order, per-row nodes after the last sum they need
  const norm: RowProgram = {
    leaves: ['elem', 'row'],
    nodes: [
      { op: 'ReduceSum', args: [{ leaf: 0 }] }, // 0
      { op: 'Div', args: [{ node: 0 }, { literal: 4 }] }, // 1 mean
      { op: 'Sub', args: [{ leaf: 0 }, { node: 1 }] }, // 2 c
      { op: 'Mul', args: [{ node: 2 }, { node: 2 }] }, // 3
      { op: 'ReduceSum', args: [{ node: 3 }] }, // 4
      { op: 'Add', args: [{ leaf: 1 }, { literal: -0.5 }] }, // 5: needs no sum
      { op: 'Div', args: [{ node: 4 }, { node: 5 }] }, // 6
      { op: 'Mul', args: [{ node: 2 }, { node: 6 }] }, // 7
    ],
    results: [7, 6],
  };

  it('run a pass a sum, each after the per-row values it reads', () => {
    const ph = rowPhases(norm);
    expect(ph.before).toEqual([5]);
    expect(ph.passes).toEqual([
      { sum: 0, nodes: [], after: [1] },
      { sum: 4, nodes: [2, 3], after: [6] },
    ]);
    expect(ph.phase2).toEqual([2, 7]);
    const k = rowFusedKernel(norm, { rank: 1, wide: false }, ['f32', 'f32']);
    // the first pass sums the leaf alone: it loads it itself; constants as float32 literals
    expect(k.source).toMatch(
      /float acc = 0\.f;\s+for \(unsigned j = lane; j < rc\.len; j \+= 32\) \{\s+const float x0 = /,
    );
    expect(k.source).toContain('acc = 0.f;');
    expect(k.source).toContain('const float t1 = t0 / 4.00000000f;');
    expect(k.source).toContain('const float t5 = x1 + (-0.500000000f);');
    // on the host: rows [1, 2, 3, 6], per-row leaf 2.5: mean 3, c = [-2, -1, 0, 3], sum c^2 = 14
    const mem = [new Float32Array(4), new Float32Array(1), Float32Array.of(1, 2, 3, 6), Float32Array.of(2.5)];
    runRows(norm, {
      dims: [1],
      strides: [[0], [0], [0], [0]],
      cols: [1, 0, 1, 0],
      len: 4,
      mem,
      outTypes: ['f32', 'f32'],
    });
    expect([...mem[1]!]).toEqual([7]);
    expect([...mem[0]!]).toEqual([-14, -7, 0, 21]);
  });

  it('are malformed without a sum or with a constant that is not finite', () => {
    expect(() =>
      rowPhases({ leaves: ['elem'], nodes: [{ op: 'Neg', args: [{ leaf: 0 }] }], results: [0] }),
    ).toThrow(/at least one sum/);
    const inf: RowProgram = {
      ...norm,
      nodes: norm.nodes.map((n, j) =>
        j === 1 ? { ...n, args: [{ node: 0 }, { literal: Number.POSITIVE_INFINITY }] } : n,
      ),
    };
    expect(() => rowFusedKernel(inf, { rank: 1, wide: false }, ['f32', 'f32'])).toThrow(/not finite/);
  });
});

describe('row fusion folding the per-head group norm (ln_x)', () => {
  for (const [what, g, batch, t] of [
    ['step', step, 3, 1],
    ['sequence', seq, 2, 5],
  ] as const)
    it(`takes each layer's ln_x into its bonus unit, computed as the separate ops do (${what})`, () => {
      const { shapes, rows, folded, half } = withNorms(g, batch, t);
      expect(normsOf(rows, shapes, 64)).toHaveLength(2);
      expect(normsOf(folded, shapes, 64)).toHaveLength(0);
      // the other LayerNorms (over C = 128, with weight and bias) stay
      expect(normsOf(folded, shapes, 128).length).toBe(normsOf(rows, shapes, 128).length);
      expect(kernels(rows) - kernels(folded)).toBe(2);
      expectStored(g, folded);
      const rowUnits = folded.filter((u): u is RowFusedUnit => u.kind === 'rowFused');
      const bonus = rowUnits.filter((u) => u.nodes[0]!.op === 'LayerNorm');
      expect(bonus).toHaveLength(2);
      expect(bonus[0]!.nodes.map((n) => n.op).join('+')).toBe(
        what === 'step'
          ? 'LayerNorm+Mul+Add+Mul+Mul+ReduceSum+Mul+Add'
          : 'LayerNorm+Mul+Add+Mul+Mul+ReduceSum+Mul+Add+Mul',
      );
      // three sums: mean, variance, the bonus's
      expect(rowPhases(bonus[0]!.program).passes).toHaveLength(3);
      rowUnits.forEach((unit, n) => {
        expectUnitMatchesOps(g, shapes, half, unit, 20 + n, what);
      });
    });

  it('matches a float64 LayerNorm and bonus within 1e-5 (the folded arithmetic, not just its float32 twin)', () => {
    const { shapes, folded } = withNorms(step, 3, 1);
    const unit = folded.find(
      (u): u is RowFusedUnit => u.kind === 'rowFused' && u.nodes[0]!.op === 'LayerNorm',
    )!;
    const vals = reference(step, shapes, unit, 7);
    // float64 reference of the same nodes: the norm exact, the rest as the graph's ops
    const exact = new Map(vals);
    const [ln, ...rest] = unit.nodes;
    const x = vals.get(ln!.inputs[0]!.name)!;
    const y = new Float32Array(x.length);
    for (let r = 0; r < x.length / 64; r++) {
      const row = Array.from(x.subarray(r * 64, r * 64 + 64));
      const mean = row.reduce((a, b) => a + b, 0) / 64;
      const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 64;
      row.forEach((e, j) => {
        y[r * 64 + j] = (e - mean) / Math.sqrt(v + (ln!.attrs['epsilon'] as number));
      });
    }
    exact.set(ln!.outputs[0]!.name, y);
    evalNodes(
      step.nodes.filter((n) => rest.includes(n) || unit.aliases.includes(n)),
      shapes,
      exact,
    );
    const geo = rowUnitGeometry(unit, (v) => shapes.get(v.name)!);
    const mem = [
      ...unit.outputs.map((o) => new Float32Array(vals.get(o.name)!.length).fill(Number.NaN)),
      ...unit.leafViews.map((l) => vals.get(unit.inputs[l.input]!.name)!),
    ];
    runRows(unit.program, { ...geo, dims: geo.walk.dims, strides: geo.walk.strides, mem, outTypes: ['f32'] });
    expectClose(mem[0]!, exact.get(unit.outputs[0]!.name)!, 'bonus against float64 norm');
  });

  it('leaves the units as they were when off', () => {
    const p = pipeline(step, 3, 1);
    const off = fuseRows(p.units, step, p.shapes, ROW_LIMITS, { foldNorms: false });
    expect(off.map((u) => u.kind)).toEqual(p.rows.map((u) => u.kind));
    expect(JSON.stringify(off.map((u) => u.outputs.map((v) => v.name)))).toBe(
      JSON.stringify(p.rows.map((u) => u.outputs.map((v) => v.name))),
    );
  });
});

describe('a plan folding row norms (stand-in runtime, no GPU)', () => {
  /** Plans of `g` at batch 3 and `t` tokens with the given options; its shapes. */
  function plans(g: Graph, t: number, options: Parameters<typeof Plan.build>[5][]) {
    const rt = standInRuntime();
    const weights = DeviceWeights.upload(rt, [g], 'float16');
    const scalars = new Map([['logits_from', t - 1]]);
    const shapes = inferShapes(g, callDims(g, 3, t), scalars);
    return { shapes, plans: options.map((o) => Plan.build(rt, g, shapes, weights, scalars, o)) };
  }
  const base = { lanes: 4, fuseSiblings: false } as const;
  const normSteps = (labels: readonly string[], shapes: ShapeMap, len: number) =>
    labels.filter((l) => {
      const m = /^LayerNorm -> (.+)$/.exec(l);
      if (!m) return false;
      const d = shapes.get(m[1]!)!;
      return d[d.length - 1] === len;
    }).length;

  for (const [what, g, t] of [
    ['step', step, 1],
    ['sequence', seq, 7],
  ] as const)
    it(`has one step fewer a layer and no per-head LayerNorm step with it on (the default), the same steps as before off (${what})`, () => {
      const { shapes, plans: ps } = plans(g, t, [
        base,
        { ...base, fuseRowNorms: false },
        { ...base, fuseRowNorms: true },
      ]);
      const [dflt, off, on] = ps.map((p) => p!.steps.map((s) => s.label));
      // the default is on unless RWKV_STREAMS_CUDA_ROW_NORMS=0
      expect(dflt).toEqual(process.env['RWKV_STREAMS_CUDA_ROW_NORMS'] === '0' ? off : on);
      expect(off!.length - on!.length).toBe(2);
      expect(normSteps(off!, shapes, 64)).toBe(2);
      expect(normSteps(on!, shapes, 64)).toBe(0);
      expect(on!.filter((l) => l.startsWith('rows LayerNorm+')).length).toBe(2);
      for (const p of ps) p!.dispose();
    });

  it.skipIf(!hasNvcc)(
    'generates row kernels that compile without warnings (nvcc -ptx for sm_90), narrow and wide',
    () => {
      for (const [g, t] of [
        [step, 1],
        [seq, 7],
      ] as const) {
        const { shapes, plans: ps } = plans(g, t, [{ ...base, fuseRowNorms: true, fuseRowSiblings: true }]);
        const plan = ps[0]!;
        for (const unit of plan.units.filter((u): u is RowFusedUnit => u.kind === 'rowFused')) {
          const geo = rowUnitGeometry(unit, (v) => shapes.get(v.name)!);
          const types = unit.outputs.map((o) => plan.buffers.get(o.name)!.type as StoreType);
          for (const wide of [false, true])
            nvccPtx(rowFusedKernel(unit.program, { rank: geo.ix.rank, wide }, types).source);
        }
        plan.dispose();
      }
    },
    120_000,
  );
});

// ---- Elementwise siblings joining a row unit (fuseRowSiblings) ----------------------------------

describe('row fusion taking elementwise siblings', () => {
  // a sequence's a = sigmoid(a0 + LoRA) is no GEMV epilogue there: it joins as the sibling's producer
  for (const [what, g, batch, t, fewer] of [
    ['step', step, 3, 1, 2],
    ['sequence', seq, 2, 5, 4],
  ] as const)
    it(`computes k * (1 + (a - 1) * k_a) in the L2 norm's kernel, as the separate ops do (${what})`, () => {
      const p = pipeline(g, batch, t);
      const fused = fuseRows(p.units, g, p.shapes, ROW_LIMITS, { foldNorms: true, siblings: true });
      const plain = fuseRows(p.units, g, p.shapes, ROW_LIMITS, { foldNorms: true });
      expect(kernels(plain) - kernels(fused)).toBe(fewer); // per layer: the k modification (and a)
      expectStored(g, fused);
      const norms = fused.filter(
        (u): u is RowFusedUnit => u.kind === 'rowFused' && u.nodes.some((n) => n.op === 'Sqrt'),
      );
      expect(norms).toHaveLength(2);
      for (const [n, unit] of norms.entries()) {
        // the k modification's Sub+Mul+Mul+Add joined; its result is stored for Wkv7 and the bonus
        expect(unit.nodes.map((x) => x.op).join('+')).toContain('Sub+Mul+Mul+Add');
        expect(unit.outputs).toHaveLength(3);
        expectUnitMatchesOps(g, p.shapes, p.half, unit, 40 + n, what);
      }
      // nothing else moved: the other row units are the same
      const others = (us: readonly Unit[]) =>
        us
          .filter((u) => u.kind === 'rowFused' && !u.nodes.some((n) => n.op === 'Sqrt'))
          .map((u) => u.outputs[0]!.name);
      expect(others(fused)).toEqual(others(plain));
    });

  it('takes no sibling that reads only a weight a member reads', () => {
    const p = pipeline(step, 3, 1);
    const fused = fuseRows(p.units, step, p.shapes, ROW_LIMITS, { siblings: true });
    for (const u of fused)
      if (u.kind === 'rowFused')
        // every node joined reads something the unit computes or an activation it shares
        for (const n of u.nodes) expect(n.inputs.some((v) => !step.initializers.has(v.name))).toBe(true);
  });
});

describe('a plan with row siblings (stand-in runtime, no GPU)', () => {
  for (const [what, g, t, fewer] of [
    ['step', step, 1, 2],
    ['sequence', seq, 7, 4],
  ] as const)
    it(`has ${fewer} steps fewer at 2 layers with them (${what})`, () => {
      const rt = standInRuntime();
      const weights = DeviceWeights.upload(rt, [g], 'float16');
      const scalars = new Map([['logits_from', t - 1]]);
      const shapes = inferShapes(g, callDims(g, 3, t), scalars);
      const [off, on] = [false, true].map((fuseRowSiblings) =>
        Plan.build(rt, g, shapes, weights, scalars, { lanes: 4, fuseSiblings: false, fuseRowSiblings }),
      );
      expect(off!.steps.length - on!.steps.length).toBe(fewer);
      off!.dispose();
      on!.dispose();
    });
});
