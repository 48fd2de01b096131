import { count, type Walk } from './geometry.js';

/**
 * Index arithmetic for kernels that walk an iteration space (elementwise groups, strided
 * copies), specialised per launch on what the host already knows:
 *
 * - **rank**: the loop over dims is unrolled at its exact length; a rank-1 walk (every
 *   operand contiguous or broadcast as a whole) has no division at all;
 * - **width**: when every index and offset fits in 31 bits (every RWKV activation we
 *   run), 32-bit indices with division by an invariant divisor done as a multiply-high
 *   and a shift (a magic number per dim, computed here on the host); past that, 64-bit
 *   indices with the hardware's (emulated) 64-bit division, as before.
 *
 * Why: with 64-bit `/` and `%` per dim per element, a [512 x 2048] lerp spent ~12 us on
 * index arithmetic where its memory traffic needs ~3 us (H200 profile, 2026-12-04); an
 * emulated 64-bit division costs tens of instructions, the magic-number one four.
 */

/** How a walk is indexed: its rank after collapsing and whether it needs 64 bits. */
export interface WalkIndexing {
  readonly rank: number;
  readonly wide: boolean;
}

/** Largest index or offset a 32-bit walk may reach (signed, so sums cannot wrap). */
const NARROW_LIMIT = 2 ** 31 - 1;

/** The indexing a walk needs, given each operand's base offset (in elements). */
export function walkIndexing(walk: Walk, offsets: readonly number[] = []): WalkIndexing {
  let wide = count(walk.dims) > NARROW_LIMIT;
  walk.strides.forEach((st, k) => {
    let reach = offsets[k] ?? 0;
    walk.dims.forEach((d, i) => {
      const s = st[i]!;
      if (s < 0) wide = true; // never made by our lowerings; the 64-bit path handles it
      reach += (d - 1) * Math.abs(s);
    });
    if (reach > NARROW_LIMIT) wide = true;
  });
  return { rank: walk.dims.length, wide };
}

/** A suffix for kernel names, so each specialisation compiles (and caches) on its own. */
export function walkSuffix(ix: WalkIndexing): string {
  return `_r${ix.rank}${ix.wide ? 'w' : 'n'}`;
}

/**
 * Magic numbers for dividing any 0 <= n < 2^31 by d (1 <= d < 2^31) as
 * `(umulhi(n, magic) + n) >> shift` (the round-up method of Granlund and Montgomery:
 * shift = ceil(log2 d), magic = floor(2^32 (2^shift - d) / d) + 1, which fits 32 bits).
 */
export function divisionMagic(d: number): { magic: number; shift: number } {
  if (!Number.isInteger(d) || d < 1 || d > NARROW_LIMIT) throw new RangeError(`divisor ${d} out of range`);
  let shift = 0;
  while (2 ** shift < d) shift++;
  const magic = ((2n ** 32n * (2n ** BigInt(shift) - BigInt(d))) / BigInt(d) + 1n) & 0xffffffffn;
  return { magic: Number(magic), shift };
}

/** The quotient the kernels compute from `divisionMagic` (host mirror, for tests). */
export function magicDivide(n: number, m: { magic: number; shift: number }): number {
  const hi = (BigInt(n) * BigInt(m.magic)) >> 32n;
  return Number((hi + BigInt(n)) >> BigInt(m.shift));
}

/**
 * The C struct a walk is passed in. Narrow: n, dims[R], magic[R], shift[R],
 * strides[K][R] (int), offsets[K], all 4-byte; wide: the same fields as 8-byte integers,
 * without magic and shift.
 */
export function walkStruct(name: string, operands: number, ix: WalkIndexing): string {
  const R = ix.rank;
  if (ix.wide)
    return `struct ${name} { long long n; long long dims[${R}]; long long strides[${operands}][${R}]; long long offsets[${operands}]; };`;
  return `struct ${name} { unsigned n; unsigned dims[${R}]; unsigned magic[${R}]; unsigned shift[${R}]; int strides[${operands}][${R}]; unsigned offsets[${operands}]; };`;
}

/** The index type of a walk's loop variable and offsets. */
export function walkIndexType(ix: WalkIndexing): string {
  return ix.wide ? 'long long' : 'unsigned';
}

/**
 * A grid-stride loop over the walk `g` (a kernel parameter of the `walkStruct` type)
 * with index `i`, running `body` per element.
 */
export function walkLoop(ix: WalkIndexing, body: string): string {
  const T = walkIndexType(ix);
  return `const ${T} step = (${T})gridDim.x * blockDim.x;
  for (${T} i = (${T})blockIdx.x * blockDim.x + threadIdx.x; i < g.n; i += step) {
    ${body}
  }`;
}

/**
 * C that turns the loop index `i` into `off0`..`off{K-1}` (each operand's element
 * offset), dims unrolled from the innermost; the outermost takes what remains.
 */
export function walkOffsets(operands: number, ix: WalkIndexing): string {
  const T = walkIndexType(ix);
  const lines: string[] = [];
  for (let k = 0; k < operands; k++) lines.push(`${T} off${k} = g.offsets[${k}];`);
  const add = (d: number, c: string) => {
    for (let k = 0; k < operands; k++) lines.push(`off${k} += ${c} * (${T})g.strides[${k}][${d}];`);
  };
  if (ix.rank === 1) {
    add(0, 'i');
    return lines.join(' ');
  }
  lines.push(`${T} rem = i;`);
  for (let d = ix.rank - 1; d >= 1; d--) {
    lines.push('{');
    if (ix.wide) lines.push(`const long long q = rem / g.dims[${d}];`);
    else lines.push(`const unsigned q = (__umulhi(rem, g.magic[${d}]) + rem) >> g.shift[${d}];`);
    lines.push(`const ${T} c = rem - q * g.dims[${d}]; rem = q;`);
    add(d, 'c');
    lines.push('}');
  }
  add(0, 'rem');
  return lines.join(' ');
}

/** Encodes a walk (and per-operand base offsets, in elements) as its struct's bytes. */
export function encodeWalk(walk: Walk, ix: WalkIndexing, offsets: readonly number[] = []): Uint8Array {
  const R = ix.rank;
  const K = walk.strides.length;
  if (walk.dims.length !== R) throw new RangeError(`walk of rank ${walk.dims.length} encoded as rank ${R}`);
  const width = ix.wide ? 8 : 4;
  const fields = 1 + R + (ix.wide ? 0 : 2 * R) + K * R + K;
  const bytes = new Uint8Array(width * fields);
  const v = new DataView(bytes.buffer);
  let p = 0;
  const put = (x: number) => {
    if (ix.wide) v.setBigInt64(p, BigInt(x), true);
    else v.setInt32(p, x, true);
    p += width;
  };
  const putU = (x: number) => {
    if (ix.wide) v.setBigInt64(p, BigInt(x), true);
    else v.setUint32(p, x >>> 0, true);
    p += width;
  };
  putU(count(walk.dims));
  for (const d of walk.dims) putU(d);
  if (!ix.wide) {
    const magics = walk.dims.map(divisionMagic);
    for (const m of magics) putU(m.magic);
    for (const m of magics) putU(m.shift);
  }
  for (const st of walk.strides) for (const s of st) put(s);
  for (let k = 0; k < K; k++) putU(offsets[k] ?? 0);
  return bytes;
}
