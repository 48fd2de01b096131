import type { OnnxEmitter } from '../emitter.js';
import { emitRecurrence } from './recurrence.js';

/**
 * RWKV-7 WKV (generalized delta rule) in standard ONNX ops. Inputs: r, w, k, v, a, b
 * [B, T, H, N]; s [B, H, N, N] as [value, key]. Per step
 * s' = s * w_row + (s a) b_row + v k_row, y = s' r. Outputs: y [B, T, H, N], s'.
 *
 * Every input is given its row/column shape ([.., N, 1] or [.., 1, N]) once, over all T,
 * before the loop, so the loop body holds only the arithmetic (onnxruntime's cost per
 * step is mostly per node executed).
 */
export function expandWkv7(
  em: OnnxEmitter,
  inputs: readonly string[],
  outputs: readonly string[],
  inline: boolean,
): void {
  const [r, w, k, v, a, b, s] = inputs as [string, string, string, string, string, string, string];
  const [y, sOut] = outputs as [string, string];
  const col = (x: string) => em.unsqueeze(x, [-1]);
  const row = (x: string) => em.unsqueeze(x, [-2]);
  const yCol = em.pool.fresh('wkv7_y_col');
  emitRecurrence(em, {
    stateIn: [s],
    scanIn: [col(r), row(w), row(k), col(v), col(a), row(b)],
    stateOut: [sOut],
    scanOut: [yCol],
    inline,
    step: (e, [st], [rt, wt, kt, vt, at, bt]) => {
      const sa = e.op1('MatMul', [st!, at!]);
      const next = e.op1('Add', [
        e.op1('Add', [e.op1('Mul', [st!, wt!]), e.op1('Mul', [sa, bt!])]),
        e.op1('Mul', [vt!, kt!]),
      ]);
      return { state: [next], outputs: [e.op1('MatMul', [next, rt!])] };
    },
  });
  em.squeeze(yCol, [-1], y);
}
