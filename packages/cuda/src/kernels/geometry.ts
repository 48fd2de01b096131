import { ShapeMismatchError } from '@rwkv-streams/core';

/**
 * Index geometry shared by the generic kernels: an iteration space of up to MAX_RANK
 * dims and, per operand, an element stride for each dim (0 where it broadcasts). The
 * host collapses adjacent dims that every operand walks contiguously, so most launches
 * run at rank 1 or 2, and encodes the result as the C struct the kernels take by value.
 */

/** Dims a kernel walks after collapsing. */
export const MAX_RANK = 6;

/** Row-major strides of a contiguous tensor of `dims`. */
export function contiguousStrides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/**
 * Strides with which an operand of `shape` is read over the iteration space `dims`
 * (numpy broadcasting: right-aligned, size-1 dims read with stride 0).
 */
export function broadcastStrides(shape: readonly number[], dims: readonly number[]): number[] {
  if (shape.length > dims.length) {
    throw new ShapeMismatchError(`cannot broadcast [${shape}] to [${dims}]`, { field: 'shape' });
  }
  const own = contiguousStrides(shape);
  const out = new Array<number>(dims.length).fill(0);
  const off = dims.length - shape.length;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === dims[off + i]) out[off + i] = d === 1 ? 0 : own[i]!;
    else if (d !== 1)
      throw new ShapeMismatchError(`cannot broadcast [${shape}] to [${dims}]`, { field: 'shape' });
  }
  return out;
}

/** An iteration space and the strides of each operand over it. */
export interface Walk {
  readonly dims: readonly number[];
  readonly strides: readonly (readonly number[])[];
}

/**
 * Drops size-1 dims and merges dim i into dim i+1 wherever every operand steps through
 * them as one (stride[i] == stride[i+1] * dims[i+1]). Throws past MAX_RANK.
 */
export function collapse(walk: Walk): Walk {
  const keep = walk.dims.map((d, i) => ({ d, s: walk.strides.map((st) => st[i]!) })).filter((x) => x.d !== 1);
  const out: { d: number; s: number[] }[] = [];
  for (const cur of keep) {
    const prev = out[out.length - 1];
    if (prev?.s.every((ps, k) => ps === cur.s[k]! * cur.d)) {
      prev.d *= cur.d;
      prev.s = cur.s.slice();
    } else out.push({ d: cur.d, s: cur.s.slice() });
  }
  if (out.length === 0) out.push({ d: 1, s: walk.strides.map(() => 0) });
  if (out.length > MAX_RANK) {
    throw new ShapeMismatchError(
      `iteration space [${walk.dims}] needs ${out.length} dims, kernels walk ${MAX_RANK}`,
      {
        field: 'shape',
      },
    );
  }
  return { dims: out.map((x) => x.d), strides: walk.strides.map((_, k) => out.map((x) => x.s[k]!)) };
}

/** Product of dims. */
export function count(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/**
 * The C declaration of the geometry struct for `operands` stride sets; fields in this
 * order: n, dims[MAX_RANK], strides[operands][MAX_RANK], offsets[operands], rank.
 */
export function geometryStruct(name: string, operands: number): string {
  return `struct ${name} { long long n; long long dims[${MAX_RANK}]; long long strides[${operands}][${MAX_RANK}]; long long offsets[${operands}]; int rank; };`;
}

/** Encodes a walk (plus per-operand base offsets, in elements) as the struct's bytes. */
export function encodeGeometry(walk: Walk, offsets: readonly number[] = []): Uint8Array {
  const k = walk.strides.length;
  const bytes = new Uint8Array(8 + 8 * MAX_RANK + 8 * MAX_RANK * k + 8 * k + 8);
  const v = new DataView(bytes.buffer);
  let p = 0;
  const i64 = (x: number) => {
    v.setBigInt64(p, BigInt(x), true);
    p += 8;
  };
  i64(count(walk.dims));
  for (let d = 0; d < MAX_RANK; d++) i64(walk.dims[d] ?? 1);
  for (const st of walk.strides) for (let d = 0; d < MAX_RANK; d++) i64(st[d] ?? 0);
  for (let j = 0; j < k; j++) i64(offsets[j] ?? 0);
  v.setInt32(p, walk.dims.length, true);
  return bytes;
}

/** A 1D launch over n elements: blocks of 256 threads, grid-stride beyond 65535 x 8 blocks. */
export function gridFor(n: number, threads = 256): { grid: [number]; block: [number] } {
  return { grid: [Math.max(1, Math.min(Math.ceil(n / threads), 65535 * 8))], block: [threads] };
}
