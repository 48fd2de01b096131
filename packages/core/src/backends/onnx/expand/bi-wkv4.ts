import type { OnnxEmitter } from '../emitter.js';
import { emitRecurrence } from './recurrence.js';

/** The initial max-exponent of an empty sum (exp of it minus anything finite is 0). */
const EMPTY = -1e38;
/** The official kernel adds this to the max-scaled denominator. */
const EPS = 1e-6;

/**
 * Vision-RWKV's bidirectional WKV in standard ONNX ops, linear in T: a forward Scan
 * gives, at each t, the sum over i < t (numerator, denominator and their max exponent)
 * and a reverse Scan the sum over i > t; the output combines both with the t-th term
 * e^{u' + k_t}. Each scan carries (a, b, p) = sums scaled by e^{-p}: after step t,
 * p' = max(p - w', k_t), a' = e^{p - w' - p'} a + e^{k_t - p'} v_t (b likewise with 1),
 * so a position's own term never enters its neighbours' sums undecayed twice.
 * Inputs: k, v [B, T, C]; w, u [C] (divided by T here). Output: y [B, T, C].
 */
export function expandBiWkv4(em: OnnxEmitter, inputs: readonly string[], outputs: readonly string[]): void {
  const [k, v, w, u] = inputs as [string, string, string, string];
  const [y] = outputs as [string];
  const p = em.pool;
  // w' = w / T and u' = u / T, T from k's shape at run time.
  const T = em.op1('Cast', [em.op1('Gather', [em.op1('Shape', [k]), p.int64([1], [])], { axis: 0 })], {
    to: 1,
  });
  const wT = em.op1('Div', [w, T]);
  const uT = em.op1('Div', [u, T]);
  // Initial (a, b, p) [B, C]: zeros and EMPTY, shaped like one time slice of k.
  const slice0 = em.op1('ReduceSum', [k, p.int64([1])], { keepdims: 0 });
  const zero = em.op1('Mul', [slice0, p.float([0], [])]);
  const empty = em.op1('Add', [zero, p.float([EMPTY], [])]);
  const scan = (reverse: boolean) => {
    const [a, b, m] = [p.fresh('biwkv_a'), p.fresh('biwkv_b'), p.fresh('biwkv_p')];
    emitRecurrence(em, {
      stateIn: [zero, zero, empty],
      scanIn: [k, v],
      stateOut: [p.fresh('biwkv_a_end'), p.fresh('biwkv_b_end'), p.fresh('biwkv_p_end')],
      scanOut: [a, b, m],
      inline: false,
      reverse,
      step: (e, [a0, b0, p0], [kt, vt]) => {
        // Outputs: the sums over the positions already passed (exclusive of t).
        const outs = [e.op1('Identity', [a0!]), e.op1('Identity', [b0!]), e.op1('Identity', [p0!])];
        const decayed = e.op1('Sub', [p0!, wT]);
        const p1 = e.op1('Max', [decayed, kt!]);
        const f1 = e.op1('Exp', [e.op1('Sub', [decayed, p1])]);
        const f2 = e.op1('Exp', [e.op1('Sub', [kt!, p1])]);
        const a1 = e.op1('Add', [e.op1('Mul', [f1, a0!]), e.op1('Mul', [f2, vt!])]);
        const b1 = e.op1('Add', [e.op1('Mul', [f1, b0!]), f2]);
        return { state: [a1, b1, p1], outputs: outs };
      },
    });
    return [a, b, m] as const;
  };
  const [af, bf, pf] = scan(false);
  const [ab, bb, pb] = scan(true);
  const self = em.op1('Add', [uT, k]);
  const q = em.op1('Max', [em.op1('Max', [pf, pb]), self]);
  const ef = em.op1('Exp', [em.op1('Sub', [pf, q])]);
  const eb = em.op1('Exp', [em.op1('Sub', [pb, q])]);
  const es = em.op1('Exp', [em.op1('Sub', [self, q])]);
  const num = em.op1('Add', [
    em.op1('Add', [em.op1('Mul', [af, ef]), em.op1('Mul', [ab, eb])]),
    em.op1('Mul', [es, v]),
  ]);
  const den = em.op1('Add', [
    em.op1('Add', [em.op1('Add', [em.op1('Mul', [bf, ef]), em.op1('Mul', [bb, eb])]), es]),
    p.float([EPS], []),
  ]);
  em.op1('Div', [num, den], {}, y);
}
