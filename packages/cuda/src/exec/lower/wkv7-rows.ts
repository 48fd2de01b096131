import { BadInputError } from '@rwkv-streams/core';
import { rowNodeKinds } from '../../kernels/row-fused.js';
import { WKV7_DECODE_ROWS } from '../../kernels/wkv7-decode.js';
import { type HeadRowAccess, wkv7DecodeRowsKernel } from '../../kernels/wkv7-decode-rows.js';
import { kernelStep, type Step } from '../step.js';
import type { Wkv7RowsUnit } from '../units.js';
import { headRowAccess } from '../wkv7-row-prologue.js';
import type { LowerContext } from './context.js';

/**
 * A one-step Wkv7 with the row unit that makes its k, a or b computed in its kernel
 * (exec/wkv7-row-prologue.ts): one launch of kernels/wkv7-decode-rows.ts.
 */
export function lowerWkv7Rows(ctx: LowerContext, unit: Wkv7RowsUnit): Step[] {
  const { wkv, rows, feeds } = unit;
  const [B, , H, N] = ctx.dims(wkv.inputs[0]!) as [number, number, number, number];
  const fedAt = new Set<number>(
    (
      [
        ['k', 2],
        ['a', 4],
        ['b', 5],
      ] as const
    ).flatMap(([w, i]) => (feeds[w] === undefined ? [] : [i])),
  );
  const kinds = rowNodeKinds(rows.program);
  const access = (dims: readonly number[], over: readonly number[], kind: 'elem' | 'row', what: string) => {
    const a = headRowAccess(dims, over, kind, B, H, N);
    if (!a)
      throw new BadInputError(`Wkv7 row prologue: '${what}' is not laid out by stream, head and column`);
    return a;
  };
  const leaves: HeadRowAccess[] = rows.leafViews.map((l, i) => {
    const v = rows.inputs[l.input]!;
    return access(ctx.dims(v), ctx.dims(l.over), rows.program.leaves[i]!, v.name);
  });
  const stored = unit.outputs.slice(wkv.outputs.length);
  const stores = stored.map((o) => {
    const k = rows.outputs.findIndex((x) => x.name === o.name);
    const node = rows.program.results[k]!;
    const d = ctx.dims(o);
    return { node, ...access(d, d, kinds[node]!, o.name) };
  });
  const kernel = wkv7DecodeRowsKernel(N, { program: rows.program, heads: H, leaves, feeds, stores });
  const count = B * H * N;
  const args = [
    ...wkv.inputs.map((v, i) => ({ ptr: fedAt.has(i) ? 0n : ctx.buf(v).ptr })),
    ...wkv.outputs.map((v) => ({ ptr: ctx.buf(v).ptr })),
    { i32: count },
    ...rows.leafViews.map((l) => ({ ptr: ctx.buf(rows.inputs[l.input]!).ptr })),
    ...stored.map((o) => ({ ptr: ctx.buf(o).ptr })),
  ];
  return [
    kernelStep(
      ctx.rt,
      `Wkv7 (one step) + rows ${rows.nodes.map((n) => n.op).join('+')} -> ${unit.outputs.map((v) => v.name).join(',')}`,
      kernel,
      { grid: [Math.ceil(count / WKV7_DECODE_ROWS)], block: [kernel.threads] },
      args,
    ),
  ];
}
