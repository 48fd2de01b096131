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
  // Column [.., N, 1] and row [.., 1, N] shapes: over all T for the Scan; for the single
  // step of a recurrent graph, one Transpose drops the time axis at the same time.
  const col = (x: string) =>
    inline ? em.op1('Transpose', [x], { perm: [0, 2, 3, 1] }) : em.unsqueeze(x, [-1]);
  const row = (x: string) =>
    inline ? em.op1('Transpose', [x], { perm: [0, 2, 1, 3] }) : em.unsqueeze(x, [-2]);
  const uCol = em.unsqueeze(u, [-1]);
  const wConstCol = wPerStep ? undefined : em.unsqueeze(w, [-1]);
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
  // Back to [B, T, H, N] (inline: [B, H, 1, N] -> [B, 1, H, N]).
  if (inline) em.op1('Transpose', [yRow], { perm: [0, 2, 1, 3] }, y);
  else em.squeeze(yRow, [-2], y);
}
