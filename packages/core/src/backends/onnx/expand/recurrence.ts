import type { OnnxEmitter } from '../emitter.js';

/**
 * How a named recurrence is lowered: a step function over one time slice, run either
 * inline (when the graph's time dimension is statically 1: the recurrent/decode path,
 * no loop) or inside an ONNX Scan over axis 1 of [B, T, ...] inputs (the sequence path:
 * every projection stays batched over all T outside the loop; cost is linear in T).
 *
 * onnxruntime's cost per Scan step is mostly per node the body executes, so expansions
 * give their inputs row/column shapes once over all T, outside the loop, and the body
 * holds only arithmetic. Measured for RWKV-7's step (H = 4, N = 64, T = 1024, 2 threads):
 * 68 us per step with unsqueezes in the body, 31-45 us without; unrolling 4-64 steps per
 * Scan iteration gained nothing further (39-49 us), so the body is one step.
 */
export interface RecurrenceSpec {
  /** Initial state values [B, ...] (outer names). */
  readonly stateIn: readonly string[];
  /**
   * Per-time inputs (outer names): [B, T, ...] scanned along T, or, when `inline`, the one
   * time step already without its time axis [B, ...].
   */
  readonly scanIn: readonly string[];
  /** Final state names to produce (outer). */
  readonly stateOut: readonly string[];
  /** Per-time output names to produce: [B, T, ...], or [B, ...] when `inline`. */
  readonly scanOut: readonly string[];
  /** True when T is statically 1. */
  readonly inline: boolean;
  /** Scan from the last time step to the first (outputs still in time order). */
  readonly reverse?: boolean;
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
    const res = spec.step(em, spec.stateIn, spec.scanIn);
    res.state.forEach((s, i) => {
      em.renameOutput(s, spec.stateOut[i]!);
    });
    res.outputs.forEach((y, i) => {
      em.renameOutput(y, spec.scanOut[i]!);
    });
    return;
  }
  const p = em.pool;
  const body = em.child();
  const stateNames = spec.stateIn.map((s) => p.fresh(`${s}_body`));
  const sliceNames = spec.scanIn.map((s) => p.fresh(`${s}_slice`));
  const res = spec.step(body, stateNames, sliceNames);
  const graph = body.graph('scan_body', [...stateNames, ...sliceNames], [...res.state, ...res.outputs]);
  em.op(
    'Scan',
    [...spec.stateIn, ...spec.scanIn],
    {
      body: graph,
      num_scan_inputs: spec.scanIn.length,
      scan_input_axes: spec.scanIn.map(() => 1),
      scan_output_axes: spec.scanOut.map(() => 1),
      ...(spec.reverse
        ? {
            scan_input_directions: spec.scanIn.map(() => 1),
            scan_output_directions: spec.scanOut.map(() => 1),
          }
        : {}),
    },
    [...spec.stateOut, ...spec.scanOut],
  );
}
