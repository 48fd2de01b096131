import type { OnnxEmitter } from '../emitter.js';
import { emitRecurrence } from './recurrence.js';

/**
 * RWKV-4 WKV in standard ONNX ops (numerically stable max-tracking form).
 * Inputs: k, v [B, T, C]; w, u [C]; aa, bb, pp [B, C]. Outputs: y [B, T, C], aa', bb', pp'.
 */
export function expandWkv4(
  em: OnnxEmitter,
  inputs: readonly string[],
  outputs: readonly string[],
  inline: boolean,
): void {
  const [k, v, w, u, aa, bb, pp] = inputs as [string, string, string, string, string, string, string];
  const [y, aaOut, bbOut, ppOut] = outputs as [string, string, string, string];
  // A recurrent graph's single step works on [B, C] (the time axis dropped).
  const yStep = inline ? em.pool.fresh('wkv4_y') : y;
  emitRecurrence(em, {
    stateIn: [aa, bb, pp],
    scanIn: inline ? [em.squeeze(k, [1]), em.squeeze(v, [1])] : [k, v],
    stateOut: [aaOut, bbOut, ppOut],
    scanOut: [yStep],
    inline,
    step: (e, [a0, b0, p0], [kt, vt]) => {
      const ww = e.op1('Add', [u, kt!]);
      const q = e.op1('Max', [p0!, ww]);
      const e1 = e.op1('Exp', [e.op1('Sub', [p0!, q])]);
      const e2 = e.op1('Exp', [e.op1('Sub', [ww, q])]);
      const num = e.op1('Add', [e.op1('Mul', [e1, a0!]), e.op1('Mul', [e2, vt!])]);
      const den = e.op1('Add', [e.op1('Mul', [e1, b0!]), e2]);
      const out = e.op1('Div', [num, den]);
      const ww2 = e.op1('Add', [p0!, w]);
      const q2 = e.op1('Max', [ww2, kt!]);
      const f1 = e.op1('Exp', [e.op1('Sub', [ww2, q2])]);
      const f2 = e.op1('Exp', [e.op1('Sub', [kt!, q2])]);
      const a1 = e.op1('Add', [e.op1('Mul', [f1, a0!]), e.op1('Mul', [f2, vt!])]);
      const b1 = e.op1('Add', [e.op1('Mul', [f1, b0!]), f2]);
      return { state: [a1, b1, q2], outputs: [out] };
    },
  });
  if (inline) em.op1('Unsqueeze', [yStep, em.pool.int64([1])], {}, y);
}
