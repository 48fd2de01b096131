import type { OnnxEmitter } from '../emitter.js';
import { emitRecurrence } from './recurrence.js';

/**
 * Vision-RWKV 6's bidirectional WKV (the `BiWkv6` op) in standard ONNX ops, linear in T.
 * Two Scans run the same RWKV-6 state walk, one forwards and one in reverse: each
 * outputs, at t, r_t applied to the state of the positions already passed (exclusive of
 * t), then folds t in: s' = k_t^T v_t + w_t s. So the forward walk gives
 * sum_{s < t} (prod_{s < m < t} w_m) k_s v_s and the reverse one the same over s > t;
 * the position's own term, with the bonus u, is added outside the loops as
 * (sum_i r_t[i] u[i] k_t[i]) v_t.
 * Inputs: r, k, v, w [B, T, H, N]; u [H, N]. Output: y [B, T, H, N].
 */
export function expandBiWkv6(em: OnnxEmitter, inputs: readonly string[], outputs: readonly string[]): void {
  const [r, k, v, w, u] = inputs as [string, string, string, string, string];
  const [y] = outputs as [string];
  const p = em.pool;
  // Row [.., 1, N] and column [.., N, 1] forms, once over all T (outside the loops).
  const col = (x: string) => em.unsqueeze(x, [-1]);
  const row = (x: string) => em.unsqueeze(x, [-2]);
  const [rRow, kCol, vRow, wCol] = [row(r), col(k), row(v), col(w)];
  // Zero state [B, H, N, N]: its dims gathered from k's [B, T, H, N] at run time.
  const dims = em.op1('Gather', [em.op1('Shape', [k]), p.int64([0, 2, 3, 3])], { axis: 0 });
  const zero = em.op1('Expand', [p.float([0], []), dims]);
  const walk = (reverse: boolean): string => {
    const out = p.fresh(reverse ? 'biwkv6_back' : 'biwkv6_fwd');
    emitRecurrence(em, {
      stateIn: [zero],
      scanIn: [rRow, kCol, vRow, wCol],
      stateOut: [p.fresh('biwkv6_s_end')],
      scanOut: [out],
      inline: false,
      reverse,
      step: (e, [st], [rt, kt, vt, wt]) => {
        const read = e.op1('MatMul', [rt!, st!]); // [B, H, 1, N]: sum_i r[i] s[i, j]
        const next = e.op1('Add', [e.op1('Mul', [kt!, vt!]), e.op1('Mul', [wt!, st!])]);
        return { state: [next], outputs: [read] };
      },
    });
    return out;
  };
  const sides = em.squeeze(em.op1('Add', [walk(false), walk(true)]), [-2]); // [B, T, H, N]
  const ruk = em.op1('ReduceSum', [em.op1('Mul', [em.op1('Mul', [r, u]), k]), p.int64([-1])], {
    keepdims: 1,
  }); // [B, T, H, 1]
  em.op1('Add', [sides, em.op1('Mul', [ruk, v])], {}, y);
}
