import { BadInputError } from '../../errors.js';

/** Weight-only block quantization for onnxruntime's MatMulNBits (com.microsoft). */
export interface NBitsQuantization {
  /** Bits per weight: 4 or 8. */
  readonly bits: 4 | 8;
  /** Weights per block along K (a power of two >= 16; 32 is onnxruntime's common choice). */
  readonly blockSize: number;
}

/** A [N, K] weight in MatMulNBits layout. */
export interface NBitsWeight {
  /** Packed codes [N, kBlocks, blockSize * bits / 8]; 4-bit: element 2i in the low nibble. */
  readonly packed: Uint8Array;
  /** One scale per (row, block): [N * kBlocks]. */
  readonly scales: Float32Array;
  /** Zero points, uint8; 4-bit packed two per byte along blocks: [N * ceil(kBlocks / 2)]; 8-bit: [N * kBlocks]. */
  readonly zeroPoints: Uint8Array;
  readonly n: number;
  readonly k: number;
  readonly kBlocks: number;
}

/**
 * Asymmetric min/max block quantization of a row-major weight [N, K] (PyTorch Linear
 * layout: N outputs, K inputs): each block of `blockSize` consecutive inputs of a row
 * gets a scale and a zero point, value = (code - zeroPoint) * scale. The block's range
 * is widened to include 0 so that zeros stay exact. K is zero-padded to whole blocks.
 */
export function quantizeNBits(weight: Float32Array, n: number, k: number, q: NBitsQuantization): NBitsWeight {
  const { bits, blockSize } = q;
  if (bits !== 4 && bits !== 8)
    throw new BadInputError(`MatMulNBits supports 4 or 8 bits, got ${bits}`, { field: 'bits' });
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new BadInputError(`block size must be a power of two >= 16, got ${blockSize}`, {
      field: 'blockSize',
    });
  }
  if (weight.length !== n * k)
    throw new BadInputError(`weight has ${weight.length} values, [${n}, ${k}] needs ${n * k}`, {
      field: 'weight',
    });
  const maxCode = (1 << bits) - 1;
  const kBlocks = Math.ceil(k / blockSize);
  const blob = (blockSize * bits) / 8;
  const packed = new Uint8Array(n * kBlocks * blob);
  const scales = new Float32Array(n * kBlocks);
  const zpPerRow = bits === 4 ? Math.ceil(kBlocks / 2) : kBlocks;
  const zeroPoints = new Uint8Array(n * zpPerRow);
  for (let row = 0; row < n; row++) {
    for (let blk = 0; blk < kBlocks; blk++) {
      const start = blk * blockSize;
      const end = Math.min(start + blockSize, k);
      let lo = 0;
      let hi = 0;
      for (let i = start; i < end; i++) {
        const v = weight[row * k + i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const scale = hi > lo ? (hi - lo) / maxCode : 1;
      const zp = Math.min(maxCode, Math.max(0, Math.round(-lo / scale)));
      const sIdx = row * kBlocks + blk;
      scales[sIdx] = scale;
      if (bits === 4) zeroPoints[row * zpPerRow + (blk >> 1)]! |= zp << ((blk & 1) * 4);
      else zeroPoints[row * zpPerRow + blk] = zp;
      const base = sIdx * blob;
      for (let j = 0; j < blockSize; j++) {
        const v = start + j < end ? weight[row * k + start + j]! : 0;
        const code = Math.min(maxCode, Math.max(0, Math.round(v / scale) + zp));
        if (bits === 8) packed[base + j] = code;
        else packed[base + (j >> 1)]! |= code << ((j & 1) * 4);
      }
    }
  }
  return { packed, scales, zeroPoints, n, k, kBlocks };
}

/** Reconstructs the float weight [N, K] a quantized one stands for (tests, error reports). */
export function dequantizeNBits(w: NBitsWeight, q: NBitsQuantization): Float32Array {
  const { bits, blockSize } = q;
  const blob = (blockSize * bits) / 8;
  const zpPerRow = bits === 4 ? Math.ceil(w.kBlocks / 2) : w.kBlocks;
  const out = new Float32Array(w.n * w.k);
  for (let row = 0; row < w.n; row++) {
    for (let blk = 0; blk < w.kBlocks; blk++) {
      const sIdx = row * w.kBlocks + blk;
      const scale = w.scales[sIdx]!;
      const zp =
        bits === 4
          ? (w.zeroPoints[row * zpPerRow + (blk >> 1)]! >> ((blk & 1) * 4)) & 15
          : w.zeroPoints[row * zpPerRow + blk]!;
      for (let j = 0; j < blockSize && blk * blockSize + j < w.k; j++) {
        const byte = w.packed[sIdx * blob + (bits === 8 ? j : j >> 1)]!;
        const code = bits === 8 ? byte : (byte >> ((j & 1) * 4)) & 15;
        out[row * w.k + blk * blockSize + j] = (code - zp) * scale;
      }
    }
  }
  return out;
}
