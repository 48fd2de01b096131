/**
 * Decoding of raw floating-point element runs (as stored in weight files) into float32.
 */
import { decodeBFloat16, decodeFloat16 } from '../tensor/float16.js';
import { sharedFloat32 } from '../tensor/shared-floats.js';
import { aligned, viewOf } from './byte-source.js';

/** Plain (non-block) floating-point element types a file may hold. */
export type FloatDType = 'float32' | 'float16' | 'bfloat16' | 'float64';

/** Bytes per element of each plain float type. */
export const FLOAT_DTYPE_BYTES: Readonly<Record<FloatDType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
};

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decodes `bytes` (a whole number of elements of `dtype`) into a new Float32Array in shared
 * memory (`sharedFloat32` says why).
 * `littleEndian` gives the byte order of the stored elements. float64 values are
 * rounded to the nearest float32.
 */
export function decodeFloats(bytes: Uint8Array, dtype: FloatDType, littleEndian = true): Float32Array {
  const size = FLOAT_DTYPE_BYTES[dtype];
  const n = Math.floor(bytes.byteLength / size);
  if (littleEndian === hostIsLittleEndian) {
    const src = aligned(bytes, size);
    switch (dtype) {
      case 'float32': {
        const out = sharedFloat32(n);
        out.set(new Float32Array(src.buffer, src.byteOffset, n));
        return out;
      }
      case 'float64': {
        const out = sharedFloat32(n);
        out.set(new Float64Array(src.buffer, src.byteOffset, n)); // rounds to nearest
        return out;
      }
      case 'float16':
        return decodeFloat16(new Uint16Array(src.buffer, src.byteOffset, n), sharedFloat32(n));
      case 'bfloat16':
        return decodeBFloat16(new Uint16Array(src.buffer, src.byteOffset, n), sharedFloat32(n));
    }
  }
  const view = viewOf(bytes);
  const out = sharedFloat32(n);
  switch (dtype) {
    case 'float32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, littleEndian);
      return out;
    case 'float64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, littleEndian);
      return out;
    case 'float16': {
      const halves = new Uint16Array(n);
      for (let i = 0; i < n; i++) halves[i] = view.getUint16(i * 2, littleEndian);
      return decodeFloat16(halves, out);
    }
    case 'bfloat16': {
      const halves = new Uint16Array(n);
      for (let i = 0; i < n; i++) halves[i] = view.getUint16(i * 2, littleEndian);
      return decodeBFloat16(halves, out);
    }
  }
}
