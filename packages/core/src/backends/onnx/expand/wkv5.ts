import type { OnnxEmitter } from '../emitter.js';
import { emitRecurrence } from './recurrence.js';

/**
 * RWKV-5.2/6 WKV in standard ONNX ops. Inputs: r, k, v [B, T, H, N]; w either per step
 * [B, T, H, N] (RWKV-6) or constant [H, N] (RWKV-5.2, `wPerStep` false); u [H, N];
 * s [B, H, N, N] as [key, value]. Outputs: y [B, T, H, N], s'.
 */
export function expandWkv5(
  em: OnnxEmitter,
  inputs: readonly string[],
  outputs: readonly string[],
  inline: boolean,
  wPerStep: boolean,
  heads: readonly [number, number],
): void {
  const [r, k, v, w, u, s] = inputs as [string, string, string, string, string, string];
  const [y, sOut] = outputs as [string, string];
  const uCol = em.unsqueeze(u, [-1]);
  const wConstCol = wPerStep ? undefined : em.unsqueeze(w, [-1]);
  emitRecurrence(em, {
    stateIn: [s],
    scanIn: wPerStep ? [r, k, v, w] : [r, k, v],
    scanInRest: (wPerStep ? [0, 1, 2, 3] : [0, 1, 2]).map(() => heads),
    // k = 0 adds nothing and w = 1 keeps the state: a padded step is the identity.
    identityPad: wPerStep ? [0, 0, 0, 1] : [0, 0, 0],
    stateOut: [sOut],
    scanOut: [y],
    scanOutRest: [heads],
    inline,
    step: (e, [st], [rt, kt, vt, wt]) => {
      const kv = e.op1('Mul', [e.unsqueeze(kt!, [-1]), e.unsqueeze(vt!, [-2])]);
      const withBonus = e.op1('Add', [st!, e.op1('Mul', [uCol, kv])]);
      const out = e.squeeze(e.op1('MatMul', [e.unsqueeze(rt!, [-2]), withBonus]), [-2]);
      const wCol = wConstCol ?? e.unsqueeze(wt!, [-1]);
      const next = e.op1('Add', [kv, e.op1('Mul', [wCol, st!])]);
      return { state: [next], outputs: [out] };
    },
  });
}
