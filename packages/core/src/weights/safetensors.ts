/**
 * Reader and writer for the safetensors format (https://github.com/huggingface/safetensors):
 * an 8-byte little-endian header length N, N bytes of JSON header, then the tensor bytes.
 * The header maps each tensor name to `{dtype, shape, data_offsets: [begin, end]}` with
 * offsets relative to the end of the header, plus an optional `__metadata__` string map.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import {
  MalformedFileError,
  ShapeMismatchError,
  TruncatedFileError,
  UnsupportedDTypeError,
} from '../errors.js';
import { encodeFloat16 } from '../tensor/float16.js';
import { type HostTensor, hostTensor, numel } from '../tensor/host-tensor.js';
import { type ByteSource, bufferSource, fileSource, viewOf } from './byte-source.js';
import { decodeFloats, FLOAT_DTYPE_BYTES, type FloatDType } from './decode.js';
import type { WeightFile } from './weight-file.js';

/** Largest JSON header accepted (the reference implementation's limit is 100 MB). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** safetensors dtype codes this reader decodes, and the float type each one is. */
const READABLE: Readonly<Record<string, FloatDType>> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
};

/** Every dtype code of the safetensors specification, with its element size in bytes. */
const KNOWN_DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

interface HeaderEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses and validates the header; returns entries sorted by data offset. */
function parseHeader(src: ByteSource): {
  entries: HeaderEntry[];
  metadata: Record<string, string>;
  dataStart: number;
} {
  const file = src.name;
  if (src.length < 8) {
    throw new TruncatedFileError(`file has ${src.length} bytes, fewer than the 8-byte header length`, {
      file,
      field: 'header_length',
      offset: 0,
    });
  }
  const lenBig = viewOf(src.read(0, 8, 'header_length')).getBigUint64(0, true);
  if (lenBig > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw new MalformedFileError(
      `header length ${lenBig} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit: not a safetensors file, or corrupt`,
      { file, field: 'header_length', offset: 0 },
    );
  }
  const headerLen = Number(lenBig);
  if (headerLen < 2) {
    throw new MalformedFileError(`header length ${headerLen} is too small for a JSON object`, {
      file,
      field: 'header_length',
      offset: 0,
    });
  }
  const headerBytes = src.read(8, headerLen, '__header__');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new MalformedFileError(`header is not valid UTF-8 JSON: ${(e as Error).message}`, {
      file,
      field: '__header__',
      offset: 8,
    });
  }
  if (!isRecord(json)) {
    throw new MalformedFileError('header JSON is not an object', { file, field: '__header__', offset: 8 });
  }
  const dataStart = 8 + headerLen;
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isRecord(raw)) {
        throw new MalformedFileError('__metadata__ is not an object', {
          file,
          field: '__metadata__',
          offset: 8,
        });
      }
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') {
          throw new MalformedFileError(`__metadata__ value of '${k}' is not a string`, {
            file,
            field: '__metadata__',
            offset: 8,
          });
        }
        metadata[k] = v;
      }
      continue;
    }
    if (!isRecord(raw)) {
      throw new MalformedFileError('header entry is not an object', { file, field: name, offset: 8 });
    }
    const { dtype, shape, data_offsets: offsets } = raw;
    if (typeof dtype !== 'string') {
      throw new MalformedFileError('header entry has no string dtype', { file, field: name, offset: 8 });
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new MalformedFileError('header entry has no valid shape (array of non-negative integers)', {
        file,
        field: name,
        offset: 8,
      });
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) ||
      (offsets[0] as number) > (offsets[1] as number)
    ) {
      throw new MalformedFileError('data_offsets must be [begin, end] with 0 <= begin <= end', {
        file,
        field: name,
        offset: 8,
      });
    }
    entries.push({
      name,
      dtype,
      shape: shape as number[],
      begin: offsets[0] as number,
      end: offsets[1] as number,
    });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataLength = src.length - dataStart;
  let cursor = 0;
  for (const e of entries) {
    const elementBytes = KNOWN_DTYPE_BYTES[e.dtype];
    if (elementBytes === undefined) {
      throw new UnsupportedDTypeError(`unknown safetensors dtype '${e.dtype}'`, {
        file,
        field: e.name,
        offset: dataStart + e.begin,
      });
    }
    const expected = numel(e.shape) * elementBytes;
    if (e.end - e.begin !== expected) {
      throw new ShapeMismatchError(
        `data_offsets [${e.begin}, ${e.end}] span ${e.end - e.begin} bytes, but shape [${e.shape.join(', ')}] of ${e.dtype} needs ${expected}`,
        { file, field: e.name, offset: dataStart + e.begin },
      );
    }
    if (e.begin < cursor) {
      throw new MalformedFileError(
        `data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (ends at ${cursor})`,
        {
          file,
          field: e.name,
          offset: dataStart + e.begin,
        },
      );
    }
    if (e.begin > cursor) {
      throw new MalformedFileError(`unused gap of ${e.begin - cursor} bytes before this tensor's data`, {
        file,
        field: e.name,
        offset: dataStart + cursor,
      });
    }
    if (e.end > dataLength) {
      throw new TruncatedFileError(
        `tensor data ends at byte ${dataStart + e.end} but the file has only ${src.length} bytes`,
        { file, field: e.name, offset: dataStart + e.begin },
      );
    }
    cursor = e.end;
  }
  if (cursor !== dataLength) {
    throw new MalformedFileError(`${dataLength - cursor} trailing bytes after the last tensor's data`, {
      file,
      field: '__data__',
      offset: dataStart + cursor,
    });
  }
  return { entries, metadata, dataStart };
}

function readFrom(src: ByteSource): WeightFile {
  const { entries, metadata, dataStart } = parseHeader(src);
  const tensors = new Map<string, HostTensor>();
  for (const e of entries) {
    const dtype = READABLE[e.dtype];
    if (dtype === undefined) {
      throw new UnsupportedDTypeError(
        `dtype ${e.dtype} is not a floating-point type this reader decodes (F32, F16, BF16, F64)`,
        { file: src.name, field: e.name, offset: dataStart + e.begin },
      );
    }
    const bytes = src.read(dataStart + e.begin, e.end - e.begin, e.name);
    tensors.set(e.name, hostTensor(e.shape, decodeFloats(bytes, dtype), dtype));
  }
  return { format: 'safetensors', source: src.name, tensors, metadata };
}

/**
 * Reads a safetensors file held in memory. F32, F16, BF16 and F64 tensors are decoded
 * to float32 (`storedAs` keeps the stored type); tensors come in data-offset order.
 * `__metadata__` becomes `metadata`.
 *
 * Throws TruncatedFileError (file shorter than the header or a tensor says),
 * MalformedFileError (bad JSON, bad entries, overlapping or gapped offsets),
 * ShapeMismatchError (offsets disagree with shape x dtype size) and
 * UnsupportedDTypeError (integer or unknown dtypes), each naming file and tensor.
 */
export function readSafetensors(bytes: Uint8Array, source = '<buffer>'): WeightFile {
  return readFrom(bufferSource(bytes, source));
}

/** Reads a safetensors file from disk; see {@link readSafetensors}. Reads only the bytes it needs. */
export function readSafetensorsFile(path: string): WeightFile {
  const src = fileSource(path);
  try {
    return readFrom(src);
  } finally {
    src.close();
  }
}

/** A tensor given to the writer: outermost-first shape and row-major float32 values. */
export interface SafetensorsInput {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Row-major values; length must be the product of `shape`. */
  readonly data: Float32Array;
}

/** Options of {@link writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /** Element type to store; float32 (default) or float16 (rounded to nearest even). */
  readonly dtype?: 'float32' | 'float16';
  /** String map stored as `__metadata__`. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Serializes tensors to safetensors bytes, in the map's order. The header is padded
 * with spaces to a multiple of 8 bytes so tensor data is 8-byte aligned, as the
 * reference implementation does. Throws ShapeMismatchError when a tensor's data
 * length disagrees with its shape.
 */
export function writeSafetensors(
  tensors: ReadonlyMap<string, SafetensorsInput>,
  options: WriteSafetensorsOptions = {},
): Uint8Array {
  const dtype = options.dtype ?? 'float32';
  const code = dtype === 'float16' ? 'F16' : 'F32';
  const elementBytes = FLOAT_DTYPE_BYTES[dtype];
  const header: Record<string, unknown> = {};
  if (options.metadata !== undefined) header['__metadata__'] = { ...options.metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') {
      throw new MalformedFileError('a tensor may not be named __metadata__', { field: name });
    }
    if (t.data.length !== numel(t.shape)) {
      throw new ShapeMismatchError(
        `data has ${t.data.length} elements, shape [${t.shape.join(', ')}] needs ${numel(t.shape)}`,
        { field: name },
      );
    }
    const size = t.data.length * elementBytes;
    header[name] = { dtype: code, shape: [...t.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  viewOf(out).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  const view = viewOf(out);
  let at = 8 + json.byteLength;
  for (const t of tensors.values()) {
    if (dtype === 'float16') {
      const halves = encodeFloat16(t.data);
      for (let i = 0; i < halves.length; i++) view.setUint16(at + i * 2, halves[i]!, true);
    } else {
      for (let i = 0; i < t.data.length; i++) view.setFloat32(at + i * 4, t.data[i]!, true);
    }
    at += t.data.length * elementBytes;
  }
  return out;
}

/**
 * Writes {@link writeSafetensors}'s bytes to `path`, in pieces of at most 1 GiB (one
 * write call takes at most 2 GiB; a 1.5B-parameter model in float16 is 3 GB).
 */
export function writeSafetensorsFile(
  path: string,
  tensors: ReadonlyMap<string, SafetensorsInput>,
  options: WriteSafetensorsOptions = {},
): void {
  const bytes = writeSafetensors(tensors, options);
  const fd = openSync(path, 'w');
  try {
    const piece = 1 << 30;
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, Math.min(piece, bytes.length - at));
  } finally {
    closeSync(fd);
  }
}
