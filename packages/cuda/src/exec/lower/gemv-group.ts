import { BadInputError, type Value } from '@rwkv-streams/core';
import type { KernelArg } from '../../driver/cuda-driver.js';
import { type GemvOperand, type GemvSegmentSpec, gemvGroupKernel } from '../../kernels/gemv-group.js';
import { operandAccess } from '../gemv-groups.js';
import { chooseGemvTiling } from '../gemv-tiling.js';
import { kernelStep, type Step } from '../step.js';
import type { GemvGroupUnit } from '../units.js';
import type { Buf, LowerContext } from './context.js';

/** A group of GEMVs with their prologues and epilogues: one generated kernel. */
export function lowerGemvGroup(ctx: LowerContext, unit: GemvGroupUnit): Step[] {
  const args: KernelArg[] = [];
  const specs: GemvSegmentSpec[] = [];
  const operand = (v: Value, b: Buf, out: readonly number[]): GemvOperand => {
    if (b.type !== 'f32') throw new BadInputError(`GEMV operand '${v.name}' must be float32, not ${b.type}`);
    const access = operandAccess(b.dims, out);
    if (!access)
      throw new BadInputError(`GEMV operand '${v.name}' [${b.dims}] is not read by rows of [${out}]`);
    // Two float4 loads a lane need 16-byte aligned rows (then every 8-column step is).
    const vector =
      access.colStride === 1 && access.rowOffsets.every((o) => (b.ptr + BigInt(o * 4)) % 16n === 0n);
    return { ...access, vector };
  };
  for (const seg of unit.segments) {
    const w = ctx.buf(seg.linear.inputs[1]!);
    if (w.type !== 'f16' && w.type !== 'bf16')
      throw new BadInputError(`GEMV weight '${seg.linear.inputs[1]!.name}' must be half, not ${w.type}`);
    const [n, k] = w.dims as [number, number];
    const y = ctx.buf(seg.epilogue ? seg.epilogue.outputs[0] : seg.linear.outputs[0]!);
    args.push({ ptr: w.ptr }, { ptr: y.ptr });
    const xDims = ctx.dims(seg.linear.inputs[0]!);
    const inVals = seg.prologue ? seg.prologue.inputs : [seg.linear.inputs[0]!];
    // A sliced prologue: its operands are read as for its whole result, at the Linear's rows.
    const first = seg.prologueRow;
    const over = first === undefined ? xDims : ctx.dims(seg.prologue!.outputs[0]);
    const inOps = inVals.map((v) => {
      const b = ctx.buf(v);
      args.push({ ptr: b.ptr });
      const o = operand(v, b, over);
      return first === undefined ? o : { ...o, rowOffsets: o.rowOffsets.slice(first, first + unit.rows) };
    });
    let output: GemvSegmentSpec['output'];
    if (seg.epilogue) {
      const e = seg.epilogue;
      const accName = seg.linear.outputs[0]!.name;
      const acc = e.inputs.findIndex((v) => v.name === accName);
      if (acc < 0) throw new BadInputError(`epilogue of '${accName}' does not read it`);
      const outOps = e.inputs.map((v, i) => {
        if (i === acc) return { rowOffsets: new Array<number>(unit.rows).fill(0), colStride: 1 as const };
        const b = ctx.buf(v);
        args.push({ ptr: b.ptr });
        return operand(v, b, y.dims);
      });
      output = { program: e.program, acc, operands: outOps };
    }
    specs.push({
      type: w.type,
      n,
      k,
      input: { ...(seg.prologue ? { program: seg.prologue.program } : {}), operands: inOps },
      ...(output ? { output } : {}),
    });
  }
  const tiling = chooseGemvTiling(
    specs.map((s) => [s.n, s.k] as const),
    { columns: ctx.gemvColumns, loadsInFlight: ctx.gemvLoads },
  );
  const kernel = gemvGroupKernel(unit.rows, specs, tiling);
  const label = `GEMV x${unit.segments.length} -> ${unit.outputs.map((v) => v.name).join(',')} [${unit.rows} rows]`;
  return [kernelStep(ctx.rt, label, kernel, { grid: [kernel.blocks], block: [kernel.threads] }, args)];
}
