import type { OnnxEmitter } from '../emitter.js';
import { emitRecurrence } from './recurrence.js';

/**
 * RWKV-7 WKV (generalized delta rule) in standard ONNX ops. Inputs: r, w, k, v, a, b
 * [B, T, H, N]; s [B, H, N, N] as [value, key]. Per step
 * s' = s * w_row + (s a) b_row + v k_row, y = s' r. Outputs: y [B, T, H, N], s'.
 */
export function expandWkv7(
  em: OnnxEmitter,
  inputs: readonly string[],
  outputs: readonly string[],
  inline: boolean,
  heads: readonly [number, number],
): void {
  const [r, w, k, v, a, b, s] = inputs as [string, string, string, string, string, string, string];
  const [y, sOut] = outputs as [string, string];
  emitRecurrence(em, {
    stateIn: [s],
    scanIn: [r, w, k, v, a, b],
    scanInRest: [heads, heads, heads, heads, heads, heads],
    // w = 1 with k = v = a = b = 0 keeps the state: a padded step is the identity.
    identityPad: [0, 1, 0, 0, 0, 0],
    stateOut: [sOut],
    scanOut: [y],
    scanOutRest: [heads],
    inline,
    step: (e, [st], [rt, wt, kt, vt, at, bt]) => {
      const sa = e.op1('MatMul', [st!, e.unsqueeze(at!, [-1])]);
      const decayed = e.op1('Mul', [st!, e.unsqueeze(wt!, [-2])]);
      const delta = e.op1('Mul', [sa, e.unsqueeze(bt!, [-2])]);
      const vk = e.op1('Mul', [e.unsqueeze(vt!, [-1]), e.unsqueeze(kt!, [-2])]);
      const next = e.op1('Add', [e.op1('Add', [decayed, delta]), vk]);
      const out = e.squeeze(e.op1('MatMul', [next, e.unsqueeze(rt!, [-1])]), [-1]);
      return { state: [next], outputs: [out] };
    },
  });
}
