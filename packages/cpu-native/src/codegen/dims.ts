import type { Dim } from '@rwkv-streams/core';

/**
 * The symbolic dims a compiled graph may have, each the C parameter of `rs_run` it becomes:
 * streams, the call's time steps, and the positions whose logits are asked for (the last
 * `positions` of `time`, from the graph's `logits_from` input).
 */
export const SYMBOLIC_DIMS: Readonly<Record<string, string>> = { batch: 'B', time: 'T', positions: 'P' };

/**
 * A dim as a C expression of the run's B, T and P: a literal, a symbol, or the builder's sums
 * of them (`time-1`, `1+time-1`); undefined for anything else.
 */
export function dimToC(d: Dim): string | undefined {
  if (typeof d === 'number') return String(d);
  const terms = d.replace(/\s+/g, '').split(/([+-])/);
  let c = '';
  for (const [i, term] of terms.entries()) {
    if (i % 2 === 1) c += ` ${term} `;
    else if (/^\d+$/.test(term)) c += term;
    else if (SYMBOLIC_DIMS[term]) c += SYMBOLIC_DIMS[term];
    else return undefined;
  }
  return terms.length === 1 ? c : `(${c})`;
}

/** The first dim of `shape` that `dimToC` cannot write, or undefined. */
export function unsupportedDim(shape: readonly Dim[]): Dim | undefined {
  return shape.find((d) => dimToC(d) === undefined);
}

/** A dim's size for a run's B, T and P (the value `dimToC`'s expression takes there). */
export function dimValue(
  d: Dim,
  sizes: { readonly B: number; readonly T: number; readonly P: number },
): number {
  if (typeof d === 'number') return d;
  const terms = d.replace(/\s+/g, '').split(/([+-])/);
  let total = 0;
  let sign = 1;
  for (const [i, term] of terms.entries()) {
    if (i % 2 === 1) sign = term === '-' ? -1 : 1;
    else {
      const symbol = SYMBOLIC_DIMS[term] as 'B' | 'T' | 'P' | undefined;
      total += sign * (symbol ? sizes[symbol] : Number(term));
    }
  }
  return total;
}
