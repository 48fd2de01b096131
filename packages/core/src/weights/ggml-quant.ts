/**
 * Dequantization of the ggml block formats rwkv.cpp stores (file version 101, i.e. ggml
 * after commit 00b49ec of 2023-05-27). Every format packs 32 consecutive values of a row
 * into one block; a row of n values is n / 32 blocks, rows follow each other. All
 * multi-byte fields are little-endian; `ggml_half` is an IEEE binary16.
 *
 * | format | block bytes | layout | value j of the block |
 * | --- | --- | --- | --- |
 * | Q4_0 | 18 | f16 d, u8 qs[16] | j < 16: ((qs[j] & 15) - 8) * d; j >= 16: ((qs[j-16] >> 4) - 8) * d |
 * | Q4_1 | 20 | f16 d, f16 m, u8 qs[16] | (nibble as in Q4_0, unsigned) * d + m |
 * | Q5_0 | 22 | f16 d, u8 qh[4], u8 qs[16] | ((nibble) \| (bit j of qh) << 4) - 16) * d |
 * | Q5_1 | 24 | f16 d, f16 m, u8 qh[4], u8 qs[16] | ((nibble) \| (bit j of qh) << 4) * d + m |
 * | Q8_0 | 34 | f16 d, i8 qs[32] | qs[j] * d |
 *
 * `qh` is read as one little-endian uint32; bit j holds the fifth bit of value j.
 * Results equal ggml's `dequantize_row_*` (each product and sum fits float32 exactly or
 * is rounded once, the same as in C).
 */
import { floatToHalf, halfToFloat } from '../tensor/float16.js';
import { sharedFloat32 } from '../tensor/shared-floats.js';
import { viewOf } from './byte-source.js';

/** The ggml block formats this module decodes. */
export type GgmlQuantType = 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'q8_0';

/** Values per block: 32 for every supported format (QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0). */
export const GGML_BLOCK_VALUES = 32;

/** Bytes per block of each format (sizeof(block_qX_Y) in ggml-common.h). */
export const GGML_BLOCK_BYTES: Readonly<Record<GgmlQuantType, number>> = {
  q4_0: 18,
  q4_1: 20,
  q5_0: 22,
  q5_1: 24,
  q8_0: 34,
};

/** Bytes needed to store `count` values (a multiple of 32) in `type`. */
export function quantizedByteLength(type: GgmlQuantType, count: number): number {
  return (count / GGML_BLOCK_VALUES) * GGML_BLOCK_BYTES[type];
}

/**
 * Decodes `count` values (a multiple of 32) of `type` from `bytes` into a new
 * Float32Array. `bytes` must hold at least {@link quantizedByteLength} bytes; the
 * caller checks sizes and reports errors with file context.
 */
export function dequantize(type: GgmlQuantType, bytes: Uint8Array, count: number): Float32Array {
  const blocks = count / GGML_BLOCK_VALUES;
  if (!Number.isInteger(blocks)) {
    throw new RangeError(`value count ${count} is not a multiple of ${GGML_BLOCK_VALUES}`);
  }
  const blockBytes = GGML_BLOCK_BYTES[type];
  if (bytes.byteLength < blocks * blockBytes) {
    throw new RangeError(
      `${type}: ${count} values need ${blocks * blockBytes} bytes, got ${bytes.byteLength}`,
    );
  }
  const out = sharedFloat32(count); // shared: see tensor/shared-floats.ts
  const view = viewOf(bytes);
  for (let b = 0; b < blocks; b++) {
    const p = b * blockBytes;
    const o = b * GGML_BLOCK_VALUES;
    switch (type) {
      case 'q4_0': {
        const d = halfToFloat(view.getUint16(p, true));
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 2 + j]!;
          out[o + j] = ((q & 0x0f) - 8) * d;
          out[o + j + 16] = ((q >> 4) - 8) * d;
        }
        break;
      }
      case 'q4_1': {
        const d = halfToFloat(view.getUint16(p, true));
        const m = halfToFloat(view.getUint16(p + 2, true));
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 4 + j]!;
          out[o + j] = (q & 0x0f) * d + m;
          out[o + j + 16] = (q >> 4) * d + m;
        }
        break;
      }
      case 'q5_0': {
        const d = halfToFloat(view.getUint16(p, true));
        const qh = view.getUint32(p + 2, true);
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 6 + j]!;
          const h0 = ((qh >>> j) & 1) << 4;
          const h1 = ((qh >>> (j + 16)) & 1) << 4;
          out[o + j] = (((q & 0x0f) | h0) - 16) * d;
          out[o + j + 16] = (((q >> 4) | h1) - 16) * d;
        }
        break;
      }
      case 'q5_1': {
        const d = halfToFloat(view.getUint16(p, true));
        const m = halfToFloat(view.getUint16(p + 2, true));
        const qh = view.getUint32(p + 4, true);
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 8 + j]!;
          const h0 = ((qh >>> j) & 1) << 4;
          const h1 = ((qh >>> (j + 16)) & 1) << 4;
          out[o + j] = ((q & 0x0f) | h0) * d + m;
          out[o + j + 16] = ((q >> 4) | h1) * d + m;
        }
        break;
      }
      case 'q8_0': {
        const d = halfToFloat(view.getUint16(p, true));
        for (let j = 0; j < 32; j++) out[o + j] = view.getInt8(p + 2 + j) * d;
        break;
      }
    }
  }
  return out;
}

/**
 * Encodes float32 values as ggml blocks, following ggml's reference quantizers
 * (`quantize_row_*_ref`, with their float32 arithmetic emulated step by step). Used to
 * build test data and round-trip checks; the value count must be a multiple of 32.
 */
export function quantize(type: GgmlQuantType, values: Float32Array): Uint8Array {
  const count = values.length;
  if (count % GGML_BLOCK_VALUES !== 0) {
    throw new RangeError(`value count ${count} is not a multiple of ${GGML_BLOCK_VALUES}`);
  }
  const blocks = count / GGML_BLOCK_VALUES;
  const blockBytes = GGML_BLOCK_BYTES[type];
  const out = new Uint8Array(blocks * blockBytes);
  const view = viewOf(out);
  const toHalf = floatToHalf;
  for (let b = 0; b < blocks; b++) {
    const p = b * blockBytes;
    const x = values.subarray(b * 32, b * 32 + 32);
    switch (type) {
      case 'q4_0':
      case 'q5_0': {
        // d = max / -(2^(bits-1)), where max is the value of largest magnitude (sign kept).
        let amax = 0;
        let max = 0;
        for (const v of x) {
          if (Math.abs(v) > amax) {
            amax = Math.abs(v);
            max = v;
          }
        }
        const levels = type === 'q4_0' ? 8 : 16;
        const d = Math.fround(max / -levels);
        const id = d !== 0 ? Math.fround(1 / d) : 0;
        view.setUint16(p, toHalf(d), true);
        const top = type === 'q4_0' ? 15 : 31;
        let qh = 0;
        const qsAt = type === 'q4_0' ? p + 2 : p + 6;
        for (let j = 0; j < 16; j++) {
          const q0 = Math.min(top, Math.trunc(Math.fround(Math.fround(x[j]! * id) + levels + 0.5)));
          const q1 = Math.min(top, Math.trunc(Math.fround(Math.fround(x[j + 16]! * id) + levels + 0.5)));
          out[qsAt + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
          qh |= ((q0 & 0x10) >>> 4) << j;
          qh |= ((q1 & 0x10) >>> 4) << (j + 16);
        }
        if (type === 'q5_0') view.setUint32(p + 2, qh >>> 0, true);
        break;
      }
      case 'q4_1':
      case 'q5_1': {
        let min = Number.POSITIVE_INFINITY;
        let max = Number.NEGATIVE_INFINITY;
        for (const v of x) {
          if (v < min) min = v;
          if (v > max) max = v;
        }
        const top = type === 'q4_1' ? 15 : 31;
        const d = Math.fround(Math.fround(max - min) / top);
        const id = d !== 0 ? Math.fround(1 / d) : 0;
        view.setUint16(p, toHalf(d), true);
        view.setUint16(p + 2, toHalf(min), true);
        let qh = 0;
        const qsAt = type === 'q4_1' ? p + 4 : p + 8;
        for (let j = 0; j < 16; j++) {
          const q0 = Math.min(top, Math.trunc(Math.fround(Math.fround(Math.fround(x[j]! - min) * id) + 0.5)));
          const q1 = Math.min(
            top,
            Math.trunc(Math.fround(Math.fround(Math.fround(x[j + 16]! - min) * id) + 0.5)),
          );
          out[qsAt + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
          qh |= ((q0 & 0x10) >>> 4) << j;
          qh |= ((q1 & 0x10) >>> 4) << (j + 16);
        }
        if (type === 'q5_1') view.setUint32(p + 4, qh >>> 0, true);
        break;
      }
      case 'q8_0': {
        let amax = 0;
        for (const v of x) amax = Math.max(amax, Math.abs(v));
        const d = Math.fround(amax / 127);
        const id = d !== 0 ? Math.fround(1 / d) : 0;
        view.setUint16(p, toHalf(d), true);
        for (let j = 0; j < 32; j++) view.setInt8(p + 2 + j, roundAway(Math.fround(x[j]! * id)));
        break;
      }
    }
  }
  return out;
}

/** C `roundf`: nearest integer, halves away from zero. */
function roundAway(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}
