import { OnnxEmitter } from '../emitter.js';
import type { OnnxValueInfo } from '../onnx-schema.js';
import { OnnxDataType } from '../onnx-schema.js';

/**
 * How a named recurrence is lowered: a step function over one time slice, run either
 * inline (when the graph's time dimension is statically 1: the recurrent/decode path,
 * no loop overhead) or inside an ONNX Scan over axis 1 of [B, T, ...] inputs (the
 * sequence path: linear in T, projections stay batched over all T outside the loop).
 */
export interface RecurrenceSpec {
  /** Initial state values [B, ...] (outer names). */
  readonly stateIn: readonly string[];
  /** Per-time inputs [B, T, ...] (outer names). */
  readonly scanIn: readonly string[];
  /** Final state names to produce (outer). */
  readonly stateOut: readonly string[];
  /** Per-time outputs [B, T, ...] names to produce (outer). */
  readonly scanOut: readonly string[];
  /** True when T is statically 1. */
  readonly inline: boolean;
  /**
   * One step: given the emitter to write into, current state names and the time
   * slices ([B, ...], time axis removed), returns next state names and output slices.
   */
  readonly step: (
    em: OnnxEmitter,
    state: readonly string[],
    slices: readonly string[],
  ) => { state: string[]; outputs: string[] };
}

/** Emits a recurrence into `em` (see RecurrenceSpec). */
export function emitRecurrence(em: OnnxEmitter, spec: RecurrenceSpec): void {
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
  const body = new OnnxEmitter(em.pool);
  const stateNames = spec.stateIn.map((s) => em.pool.fresh(`${s}_body`));
  const sliceNames = spec.scanIn.map((s) => em.pool.fresh(`${s}_slice`));
  const res = spec.step(body, stateNames, sliceNames);
  // Body outputs must be produced inside the body: route each through Identity.
  const outState = res.state.map((s) => body.op1('Identity', [s]));
  const outSlices = res.outputs.map((s) => body.op1('Identity', [s]));
  const info = (name: string): OnnxValueInfo => ({
    name,
    type: { tensorType: { elemType: OnnxDataType.FLOAT } },
  });
  const graph = {
    name: em.pool.fresh('scan_body'),
    node: body.nodes,
    initializer: [],
    input: [...stateNames, ...sliceNames].map(info),
    output: [...outState, ...outSlices].map(info),
  };
  em.op(
    'Scan',
    [...spec.stateIn, ...spec.scanIn],
    {
      body: graph,
      num_scan_inputs: spec.scanIn.length,
      scan_input_axes: spec.scanIn.map(() => 1),
      scan_output_axes: spec.scanOut.map(() => 1),
    },
    [...spec.stateOut, ...spec.scanOut],
  );
}
