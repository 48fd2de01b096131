import type { OnnxEmitter } from '../emitter.js';
import { emitRecurrence } from './recurrence.js';

/**
 * RWKV-5.2/6 WKV in standard ONNX ops. Inputs: r, k, v [B, T, H, N]; w either per step
 * [B, T, H, N] (RWKV-6) or constant [H, N] (RWKV-5.2, `wPerStep` false); u [H, N];
 * s [B, H, N, N] as [key, value]. Per step y = r (u k^T v + s), s' = k^T v + w s.
 * Outputs: y [B, T, H, N], s'. Inputs get their row/column shapes once, outside the loop.
 */
export function expandWkv5(
  em: OnnxEmitter,
  inputs: readonly string[],
  outputs: readonly string[],
  inline: boolean,
  wPerStep: boolean,
): void {
  const [r, k, v, w, u, s] = inputs as [string, string, string, string, string, string];
  const [y, sOut] = outputs as [string, string];
  const col = (x: string) => em.unsqueeze(x, [-1]);
  const row = (x: string) => em.unsqueeze(x, [-2]);
  const uCol = col(u);
  const wConstCol = wPerStep ? undefined : col(w);
  const yRow = em.pool.fresh('wkv5_y_row');
  emitRecurrence(em, {
    stateIn: [s],
    scanIn: wPerStep ? [row(r), col(k), row(v), col(w)] : [row(r), col(k), row(v)],
    stateOut: [sOut],
    scanOut: [yRow],
    inline,
    step: (e, [st], [rt, kt, vt, wt]) => {
      const kv = e.op1('Mul', [kt!, vt!]);
      const out = e.op1('MatMul', [rt!, e.op1('Add', [st!, e.op1('Mul', [uCol, kv])])]);
      const next = e.op1('Add', [kv, e.op1('Mul', [wConstCol ?? wt!, st!])]);
      return { state: [next], outputs: [out] };
    },
  });
  em.squeeze(yRow, [-2], y);
}
