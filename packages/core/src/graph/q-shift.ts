import { ShapeMismatchError } from '../errors.js';

/**
 * Vision-RWKV's Q-Shift, defined once: every channel of a token on a `rows` x `cols`
 * patch grid is read from a neighbouring token `shift` patches away in one of four
 * directions (right, left, down, up: zero where the neighbour is off the grid) or from
 * the token itself. Which direction is set by the channel's rank `s` in "quarters-first"
 * order: with `heads` heads of N = C / heads channels, channel c = h * N + d has rank
 * s = d * heads + h (s = c for one head), and direction floor(s / group) (4 and above:
 * unshifted). VRWKV's `q_shift` is heads = 1, group = floor(C * gamma); VRWKV6's
 * `q_shift_multihead` is group = floor(C / 4) with its heads.
 */
export interface QShiftAttrs {
  /** Patch rows of the grid. */
  readonly rows: number;
  /** Patch columns of the grid (token t is at row floor(t / cols), column t % cols). */
  readonly cols: number;
  /** Channels per direction, counted in quarters-first order. */
  readonly group: number;
  /** Patches a shifted channel moves (a shift of a grid's size or more reads zeros). */
  readonly shift: number;
  /** Heads whose quarters are interleaved (1: the channels in order). */
  readonly heads: number;
}

/** The direction of each of `C` channels: 0 right, 1 left, 2 down, 3 up, 4 none. */
export function qShiftDirections(C: number, a: Pick<QShiftAttrs, 'group' | 'heads'>): Uint8Array {
  const N = C / a.heads;
  const dirs = new Uint8Array(C);
  for (let c = 0; c < C; c++) {
    const s = (c % N) * a.heads + Math.floor(c / N);
    dirs[c] = a.group > 0 ? Math.min(4, Math.floor(s / a.group)) : 4;
  }
  return dirs;
}

/**
 * The token that token `t` reads in direction `dir`, or -1 where that neighbour is off
 * the grid.
 */
export function qShiftSourceToken(t: number, dir: number, a: QShiftAttrs): number {
  const r = Math.floor(t / a.cols);
  const q = t % a.cols;
  const [dr, dq] = [
    [0, -a.shift],
    [0, a.shift],
    [-a.shift, 0],
    [a.shift, 0],
    [0, 0],
  ][dir]!;
  const [sr, sq] = [r + dr!, q + dq!];
  return sr >= 0 && sr < a.rows && sq >= 0 && sq < a.cols ? sr * a.cols + sq : -1;
}

/** Checks attributes against a [B, T, C] input; throws ShapeMismatchError naming the problem. */
export function checkQShift(T: number | string, C: number | string, a: QShiftAttrs, name: string): void {
  const bad = (why: string) => {
    throw new ShapeMismatchError(`QShift of ${name}: ${why}`, { field: name });
  };
  for (const [k, v] of Object.entries(a))
    if (!Number.isInteger(v) || v < (k === 'group' || k === 'shift' ? 0 : 1))
      bad(`${k} must be a ${k === 'group' || k === 'shift' ? 'non-negative' : 'positive'} integer, not ${v}`);
  if (typeof T === 'number' && T !== a.rows * a.cols) bad(`${T} tokens are not a ${a.rows} x ${a.cols} grid`);
  if (typeof C !== 'number') bad('the channel count must be fixed');
  else if (C % a.heads !== 0) bad(`${C} channels do not split into ${a.heads} heads`);
}
