import { OnnxEmitter } from '../emitter.js';
import type { OnnxValueInfo } from '../onnx-schema.js';
import { OnnxDataType } from '../onnx-schema.js';

/**
 * How a named recurrence is lowered: a step function over one time slice, run either
 * inline (when the graph's time dimension is statically 1: the recurrent/decode path,
 * no loop) or inside an ONNX Scan over the time axis of [B, T, ...] inputs (the
 * sequence path: every projection stays batched over all T outside the loop).
 *
 * The Scan body unrolls `unroll` steps per iteration: onnxruntime spends tens of
 * microseconds per Scan iteration on bookkeeping (measured ~68 us per step for RWKV-7's
 * step alone at H=4, N=64, against a few us of arithmetic), so K steps per iteration
 * divide that overhead by K. T is padded inside the graph to a multiple of K with
 * values that make a step leave the state unchanged (`identityPad`), and the outputs
 * are cut back to T, so the graph still takes any T.
 */
export interface RecurrenceSpec {
  /** Initial state values [B, ...] (outer names). */
  readonly stateIn: readonly string[];
  /** Per-time inputs [B, T, ...rest] (outer names). */
  readonly scanIn: readonly string[];
  /** Static trailing dims (after B and T) of each per-time input. */
  readonly scanInRest: readonly (readonly number[])[];
  /** For each per-time input, a value whose step leaves the state unchanged. */
  readonly identityPad: readonly number[];
  /** Final state names to produce (outer). */
  readonly stateOut: readonly string[];
  /** Per-time outputs [B, T, ...rest] names to produce (outer). */
  readonly scanOut: readonly string[];
  /** Static trailing dims of each per-time output. */
  readonly scanOutRest: readonly (readonly number[])[];
  /** True when T is statically 1. */
  readonly inline: boolean;
  /**
   * One step: given the emitter to write into, current state names and the time
   * slices ([B, ...rest], time axis removed), returns next state names and output slices.
   */
  readonly step: (
    em: OnnxEmitter,
    state: readonly string[],
    slices: readonly string[],
  ) => { state: string[]; outputs: string[] };
}

/** Steps per Scan iteration in sequence graphs (see RecurrenceSpec). */
export const SCAN_UNROLL = 1;

/** Emits a recurrence into `em` (see RecurrenceSpec). */
export function emitRecurrence(em: OnnxEmitter, spec: RecurrenceSpec, unroll = SCAN_UNROLL): void {
  if (spec.inline) {
    const slices = spec.scanIn.map((x) => em.squeeze(x, [1]));
    const res = spec.step(em, spec.stateIn, slices);
    res.state.forEach((s, i) => {
      em.op1('Identity', [s], {}, spec.stateOut[i]!);
    });
    res.outputs.forEach((y, i) => {
      em.op1('Unsqueeze', [y, em.pool.int64([1])], {}, spec.scanOut[i]!);
    });
    return;
  }
  const K = unroll;
  const p = em.pool;
  // Pad T up to a multiple of K: padLen = (K - T mod K) mod K, appended at the end of axis 1.
  const first = spec.scanIn[0]!;
  const T = em.op1('Shape', [first], { start: 1, end: 2 });
  const kConst = p.int64([K]);
  const padLen = em.op1('Mod', [em.op1('Sub', [kConst, em.op1('Mod', [T, kConst])]), kConst]);
  const chunked = spec.scanIn.map((x, i) => {
    const rest = spec.scanInRest[i]!;
    const zeros = p.int64(new Array<number>(rest.length).fill(0));
    const pads = em.op1('Concat', [p.int64([0, 0, ...rest.map(() => 0), 0]), padLen, zeros], { axis: 0 });
    const padded = em.op1('Pad', [x, pads, p.float([spec.identityPad[i]!], [])]);
    return em.op1('Reshape', [padded, p.int64([0, -1, K, ...rest])]);
  });

  const body = new OnnxEmitter(p);
  const stateNames = spec.stateIn.map((s) => p.fresh(`${s}_body`));
  const chunkNames = spec.scanIn.map((s) => p.fresh(`${s}_chunk`));
  let state: readonly string[] = stateNames;
  const perStep: string[][] = spec.scanOut.map(() => []);
  for (let k = 0; k < K; k++) {
    const index = p.int64([k], []);
    const slices = chunkNames.map((c) => body.op1('Gather', [c, index], { axis: 1 }));
    const res = spec.step(body, state, slices);
    state = res.state;
    res.outputs.forEach((y, i) => {
      perStep[i]!.push(body.unsqueeze(y, [1]));
    });
  }
  // Body outputs must be produced inside the body: route states through Identity.
  const outState = state.map((s) => body.op1('Identity', [s]));
  const outChunks = perStep.map((ys) => body.op1('Concat', ys, { axis: 1 }));
  const info = (name: string): OnnxValueInfo => ({
    name,
    type: { tensorType: { elemType: OnnxDataType.FLOAT } },
  });
  const graph = {
    name: p.fresh('scan_body'),
    node: body.nodes,
    initializer: [],
    input: [...stateNames, ...chunkNames].map(info),
    output: [...outState, ...outChunks].map(info),
  };
  const scanned = spec.scanOut.map((y) => p.fresh(`${y}_chunks`));
  em.op(
    'Scan',
    [...spec.stateIn, ...chunked],
    {
      body: graph,
      num_scan_inputs: spec.scanIn.length,
      scan_input_axes: spec.scanIn.map(() => 1),
      scan_output_axes: spec.scanOut.map(() => 1),
    },
    [...spec.stateOut, ...scanned],
  );
  // [B, T/K, K, ...rest] -> [B, T + pad, ...rest] -> [B, T, ...rest]
  scanned.forEach((y, i) => {
    const flat = em.op1('Reshape', [y, p.int64([0, -1, ...spec.scanOutRest[i]!])]);
    em.op1('Slice', [flat, p.int64([0]), T, p.int64([1])], {}, spec.scanOut[i]!);
  });
}
