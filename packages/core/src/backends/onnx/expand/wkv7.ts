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
  // Column [.., N, 1] and row [.., 1, N] shapes: over all T for the Scan; for the single
  // step of a recurrent graph, one Transpose drops the time axis at the same time.
  const col = (x: string) =>
    inline ? em.op1('Transpose', [x], { perm: [0, 2, 3, 1] }) : em.unsqueeze(x, [-1]);
  const row = (x: string) =>
    inline ? em.op1('Transpose', [x], { perm: [0, 2, 1, 3] }) : em.unsqueeze(x, [-2]);
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
  // Back to [B, T, H, N] (inline: [B, H, N, 1] -> [B, 1, H, N]).
  if (inline) em.op1('Transpose', [yCol], { perm: [0, 3, 1, 2] }, y);
  else em.squeeze(yCol, [-1], y);
}

/**
 * The single step of a recurrent graph (T statically 1), with static H and N. The two
 * outer products and their sum are one rank-2 product, [s a, v] [b; k], so the state
 * [B, H, N, N] is passed over 4 times (read for s a, read and write for s w, read the
 * sum, write s') instead of 7; the row/column views are Reshapes (no copies) of the
 * [B, 1, H, N] inputs. Measured on the 12 x 768 shape (the 12 layers' steps alone, state
 * in and out through onnxruntime-node, 2 threads): 2.1 ms a token as two outer products
 * with Transposes, 1.5 ms as this (0.7 ms of either is moving the state in and out).
 */
export function expandWkv7Step(
  em: OnnxEmitter,
  inputs: readonly string[],
  outputs: readonly string[],
  heads: number,
  headSize: number,
): void {
  const [r, w, k, v, a, b, s] = inputs as [string, string, string, string, string, string, string];
  const [y, sOut] = outputs as [string, string];
  const p = em.pool;
  const col = (x: string) => em.op1('Reshape', [x, p.int64([0, heads, headSize, 1])]);
  const row = (x: string) => em.op1('Reshape', [x, p.int64([0, heads, 1, headSize])]);
  const sa = em.op1('MatMul', [s, col(a)]);
  const left = em.op1('Concat', [sa, col(v)], { axis: 3 });
  const right = em.op1('Concat', [row(b), row(k)], { axis: 2 });
  em.op1('Add', [em.op1('Mul', [s, row(w)]), em.op1('MatMul', [left, right])], {}, sOut);
  em.op1('Reshape', [em.op1('MatMul', [sOut, col(r)]), p.int64([0, 1, heads, headSize])], {}, y);
}
