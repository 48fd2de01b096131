import { BadInputError, type Node, type Value } from '@rwkv-streams/core';
import type { DevicePtr } from '../../driver/cuda-driver.js';
import { CAST } from '../../kernels/cast.js';
import { GEMV_MAX_ROWS, gemvGroupKernel } from '../../kernels/gemv-group.js';
import { gridFor } from '../../kernels/geometry.js';
import { kernelStep, type Step } from '../step.js';
import { ELEM_BYTES } from '../weights.js';
import { type Buf, type LowerContext, numelOf } from './context.js';

/**
 * Matrix products through cuBLAS (float32 accumulation). Row-major X[M, K] times
 * row-major W[N, K] transposed is, in cuBLAS' column-major view, C[N, M] = W^T' X'
 * (op(A) = transpose of the stored [K, N] column-major W).
 */

/** Whether a Linear runs as our half-weight GEMV (few rows, 16-byte weight rows). */
export function linearRunsGemv(M: number, K: number, weightType: string): boolean {
  return (weightType === 'f16' || weightType === 'bf16') && M <= GEMV_MAX_ROWS && K % 8 === 0;
}

/**
 * The half type a Linear of input dims `x` hands cuBLAS its input in (its weights' type,
 * when they are half and the rows are too many for our GEMV), else undefined (float32).
 */
export function linearHalfInput(x: readonly number[], weightType: string): 'f16' | 'bf16' | undefined {
  const K = x[x.length - 1] ?? 1;
  const M = K === 0 ? 0 : numelOf(x) / K;
  if (M === 0 || linearRunsGemv(M, K, weightType)) return undefined;
  return weightType === 'f16' || weightType === 'bf16' ? weightType : undefined;
}

/**
 * Scratch bytes a Linear needs: its input rounded to the weights' half type for cuBLAS,
 * unless the producer already stored it so (`inputIsHalf`).
 */
export function linearScratchBytes(x: readonly number[], weightType: string, inputIsHalf = false): number {
  return !inputIsHalf && linearHalfInput(x, weightType) ? numelOf(x) * 2 : 0;
}

/** x[..., K] W[N, K]^T -> y[..., N]; half weights read a half copy of x. */
export function lowerLinear(ctx: LowerContext, node: Node): Step[] {
  return linearSteps(ctx, node, ctx.buf(node.outputs[0]!));
}

/**
 * A Linear whose product is added to a residual r, r + x W^T, stored in r's memory (the
 * plan gives the sum r's buffer: exec/residual-gemm.ts): one cuBLAS GEMM with beta = 1
 * instead of a GEMM and an Add. Inputs [x, W, r], output the sum; should the sum lie
 * elsewhere, r is copied there first.
 */
export function lowerLinearAdd(ctx: LowerContext, linear: Node, residual: Value, sum: Value): Step[] {
  const r = ctx.buf(residual);
  const y = ctx.buf(sum);
  if (r.type !== 'f32' || y.type !== 'f32')
    throw new BadInputError(
      `residual '${residual.name}' and sum '${sum.name}' must be float32 for an accumulating GEMM`,
    );
  const steps: Step[] = [];
  if (y.ptr !== r.ptr) {
    const bytes = numelOf(r.dims) * ELEM_BYTES.f32;
    steps.push({
      label: `copy ${residual.name} -> ${sum.name}`,
      enqueue: (lane) => ctx.rt.ctx.copyDeviceAsync(y.ptr, r.ptr, bytes, lane.stream),
    });
  }
  return [...steps, ...linearSteps(ctx, linear, y, true)];
}

function linearSteps(ctx: LowerContext, node: Node, y: Buf, accumulate = false): Step[] {
  const x = ctx.buf(node.inputs[0]!);
  const w = ctx.buf(node.inputs[1]!);
  const [N, K] = w.dims as [number, number];
  const M = numelOf(x.dims) / K;
  if (M === 0) return [];
  if (linearRunsGemv(M, K, w.type)) {
    if (accumulate)
      throw new BadInputError(`Linear '${node.outputs[0]!.name}' runs as a GEMV: it cannot accumulate`);
    if (x.type !== 'f32')
      throw new BadInputError(`GEMV input '${node.inputs[0]!.name}' must be float32, not ${x.type}`);
    // A group of one: the GEMV kernel of exec/gemv-groups.ts with no prologue or epilogue.
    const kernel = gemvGroupKernel(M, [
      {
        type: w.type as 'f16' | 'bf16',
        n: N,
        k: K,
        input: {
          operands: [
            {
              rowOffsets: Array.from({ length: M }, (_, m) => m * K),
              colStride: 1,
              vector: x.ptr % 16n === 0n, // K % 8 == 0 keeps every row aligned
            },
          ],
        },
      },
    ]);
    return [
      kernelStep(
        ctx.rt,
        `Linear (gemv ${w.type}) -> ${node.outputs[0]!.name} [${M}x${K}]x[${K}x${N}]`,
        kernel,
        { grid: [kernel.blocks], block: [kernel.threads] },
        [{ ptr: w.ptr }, { ptr: y.ptr }, { ptr: x.ptr }],
      ),
    ];
  }
  const steps: Step[] = [];
  let b: DevicePtr = x.ptr;
  let bType: 'f32' | 'f16' | 'bf16' = 'f32';
  if (x.type === 'f16' || x.type === 'bf16') {
    // stored rounded by its producer (exec/half-activations.ts)
    if (x.type !== w.type)
      throw new BadInputError(`Linear input '${node.inputs[0]!.name}' is ${x.type}, its weights ${w.type}`);
    bType = x.type;
  } else if (w.type === 'f16' || w.type === 'bf16') {
    b = ctx.scratch();
    bType = w.type;
    const name = w.type === 'f16' ? CAST.names.f32ToF16 : CAST.names.f32ToBf16;
    steps.push(
      kernelStep(
        ctx.rt,
        `Linear input to ${w.type} (${node.outputs[0]!.name})`,
        { source: CAST.source, name },
        gridFor(M * K),
        [{ ptr: x.ptr }, { ptr: b }, { i64: BigInt(M * K) }],
      ),
    );
  } else if (w.type !== 'f32')
    throw new BadInputError(`Linear weight '${node.inputs[1]!.name}' has type ${w.type}`);
  // a product stored rounded for the next half GEMM (exec/half-activations.ts)
  if (y.type !== 'f32' && y.type !== w.type)
    throw new BadInputError(`Linear output '${node.outputs[0]!.name}' is ${y.type}, its weights ${w.type}`);
  const gemm = {
    transA: true,
    transB: false,
    m: N,
    n: M,
    k: K,
    a: w.ptr,
    aType: w.type as 'f32' | 'f16' | 'bf16',
    lda: K,
    b,
    bType,
    ldb: K,
    c: y.ptr,
    cType: y.type as 'f32' | 'f16' | 'bf16',
    ldc: N,
    ...(accumulate ? { accumulate: true } : {}),
  };
  steps.push({
    label: `Linear${accumulate ? ' + residual' : ''} -> ${node.outputs[0]!.name} [${M}x${K}]x[${K}x${N}]`,
    enqueue: (lane) => lane.blas.gemm(gemm),
  });
  return steps;
}

/**
 * Batched A[..., m, k] B[..., k, n] with broadcast batch dims (float32 operands). Batches
 * whose operand offsets step uniformly run as one strided-batched GEMM, others one GEMM
 * each.
 */
export function lowerMatMul(ctx: LowerContext, node: Node): Step[] {
  const a = ctx.buf(node.inputs[0]!);
  const b = ctx.buf(node.inputs[1]!);
  const y = ctx.buf(node.outputs[0]!);
  for (const [v, buf] of [
    [node.inputs[0]!, a],
    [node.inputs[1]!, b],
  ] as const)
    if (buf.type !== 'f32')
      throw new BadInputError(`MatMul operand '${v.name}' must be float32, not ${buf.type}`);
  const m = a.dims[a.dims.length - 2]!;
  const k = a.dims[a.dims.length - 1]!;
  const n = b.dims[b.dims.length - 1]!;
  const batchDims = y.dims.slice(0, -2);
  const batches = numelOf(batchDims);
  if (batches === 0 || m === 0 || n === 0) return [];
  const offsets = (buf: Buf, size: number) => {
    const own = buf.dims.slice(0, -2);
    const out: number[] = [];
    for (let i = 0; i < batches; i++) {
      let rem = i;
      let off = 0;
      let stride = size;
      for (let d = batchDims.length - 1; d >= 0; d--) {
        const c = rem % batchDims[d]!;
        rem = Math.floor(rem / batchDims[d]!);
        const od = d - (batchDims.length - own.length);
        if (od >= 0) {
          if (own[od]! !== 1) off += c * stride;
          stride *= own[od]!;
        }
      }
      out.push(off);
    }
    return out;
  };
  const ao = offsets(a, m * k);
  const bo = offsets(b, k * n);
  const uniform = (o: number[]) => o.every((v, i) => i === 0 || v - o[i - 1]! === o[1]! - o[0]!);
  const el = ELEM_BYTES.f32;
  const one = (i: number) => ({
    transA: false,
    transB: false,
    m: n,
    n: m,
    k,
    a: b.ptr + BigInt(bo[i]! * el),
    aType: 'f32' as const,
    lda: n,
    b: a.ptr + BigInt(ao[i]! * el),
    bType: 'f32' as const,
    ldb: k,
    c: y.ptr + BigInt(i * m * n * el),
    ldc: n,
  });
  const label = `MatMul -> ${node.outputs[0]!.name}`;
  if (batches === 1 || (uniform(ao) && uniform(bo))) {
    const g = {
      ...one(0),
      ...(batches > 1
        ? { batch: { count: batches, strideA: bo[1]! - bo[0]!, strideB: ao[1]! - ao[0]!, strideC: m * n } }
        : {}),
    };
    return [{ label, enqueue: (lane) => lane.blas.gemm(g) }];
  }
  return Array.from({ length: batches }, (_, i) => {
    const g = one(i);
    return { label: `${label} #${i}`, enqueue: (lane) => lane.blas.gemm(g) };
  });
}
