/**
 * Reader for rwkv.cpp model files (docs/FILE_FORMAT.md and rwkv_file_format.inc of
 * RWKV/rwkv.cpp). Layout, all little-endian:
 *
 * - header, 6 x uint32: magic 0x67676d66 ('ggmf'), file version (100 or 101), n_vocab,
 *   n_embed, n_layer, data type (of most tensors; informative);
 * - tensor records until the end of the file: int32 n_dims (1..3), int32 name length,
 *   int32 data type, n_dims x int32 sizes (innermost first), the UTF-8 name, the data.
 *
 * Data type codes (enum rwkv_type): 0 FP32, 1 FP16, 2 Q4_0, 3 Q4_1, 4 Q4_1_O, 5 Q4_2,
 * 6 Q4_3 (4..6 removed formats), 7 Q5_0, 8 Q5_1, 9 Q8_0, 10 Q8_1, 11..16 Q2_K..Q8_K.
 * This reader decodes FP32, FP16, Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 to float32. Quantized
 * tensors in version-100 files used ggml's pre-2023-05-27 block layouts and are refused
 * (rwkv.cpp refuses them too).
 *
 * Tensor names and values are those rwkv.cpp's converter wrote, which differ from the
 * official PyTorch checkpoint for some tensors: see `canonicalizeRwkvCpp`.
 */
import {
  BadMagicError,
  MalformedFileError,
  TruncatedFileError,
  UnknownVersionError,
  UnsupportedDTypeError,
} from '../errors.js';
import { type HostTensor, hostTensor, type StoredDType } from '../tensor/host-tensor.js';
import { type ByteSource, bufferSource, fileSource, viewOf } from './byte-source.js';
import { decodeFloats } from './decode.js';
import { dequantize, GGML_BLOCK_VALUES, type GgmlQuantType, quantizedByteLength } from './ggml-quant.js';
import type { WeightFile } from './weight-file.js';

/** Magic number at offset 0, read as a little-endian uint32 (bytes 'fmgg'). */
export const RWKV_CPP_MAGIC = 0x67676d66;

/** File versions rwkv.cpp writes: 100 (original) and 101 (ggml quantization formats of 2023-05-27). */
export const RWKV_CPP_VERSIONS: readonly number[] = [100, 101];

/** Names of the rwkv_type codes, index = code (rwkv_type_to_string). */
export const RWKV_CPP_TYPE_NAMES: readonly string[] = [
  'FP32',
  'FP16',
  'Q4_0',
  'Q4_1',
  'Q4_1_O',
  'Q4_2',
  'Q4_3',
  'Q5_0',
  'Q5_1',
  'Q8_0',
  'Q8_1',
  'Q2_K',
  'Q3_K',
  'Q4_K',
  'Q5_K',
  'Q6_K',
  'Q8_K',
];

const DECODABLE: ReadonlyMap<number, StoredDType> = new Map<number, StoredDType>([
  [0, 'float32'],
  [1, 'float16'],
  [2, 'q4_0'],
  [3, 'q4_1'],
  [7, 'q5_0'],
  [8, 'q5_1'],
  [9, 'q8_0'],
]);

/** Header size in bytes. */
const HEADER_BYTES = 24;
/** Longest tensor name accepted (real names are under 40 bytes). */
const MAX_NAME_BYTES = 4096;
/** Largest size of one dimension accepted (rwkv.cpp stores them as int32). */
const MAX_DIM = 0x7fffffff;

/** The rwkv.cpp header fields, as stored. */
export interface RwkvCppHeader {
  /** File version, 100 or 101. */
  readonly version: number;
  /** Vocabulary size. */
  readonly nVocab: number;
  /** Embedding size. */
  readonly nEmbed: number;
  /** Number of blocks. */
  readonly nLayer: number;
  /** Data type code of most tensors (see RWKV_CPP_TYPE_NAMES). */
  readonly dataType: number;
}

function readHeader(src: ByteSource): RwkvCppHeader {
  const file = src.name;
  if (src.length < 4) {
    throw new TruncatedFileError(`file has ${src.length} bytes, fewer than the 4-byte magic`, {
      file,
      field: 'magic',
      offset: 0,
    });
  }
  const magic = viewOf(src.read(0, 4, 'magic')).getUint32(0, true);
  if (magic !== RWKV_CPP_MAGIC) {
    throw new BadMagicError(
      `magic is 0x${magic.toString(16).padStart(8, '0')}, expected 0x${RWKV_CPP_MAGIC.toString(16)} ('ggmf' little-endian): not an rwkv.cpp model file`,
      { file, field: 'magic', offset: 0 },
    );
  }
  if (src.length < HEADER_BYTES) {
    throw new TruncatedFileError(`file has ${src.length} bytes, fewer than the ${HEADER_BYTES}-byte header`, {
      file,
      field: 'header',
      offset: 0,
    });
  }
  const v = viewOf(src.read(0, HEADER_BYTES, 'header'));
  const version = v.getUint32(4, true);
  if (!RWKV_CPP_VERSIONS.includes(version)) {
    throw new UnknownVersionError(`file version ${version} is not one of ${RWKV_CPP_VERSIONS.join(', ')}`, {
      file,
      field: 'version',
      offset: 4,
    });
  }
  const header: RwkvCppHeader = {
    version,
    nVocab: v.getUint32(8, true),
    nEmbed: v.getUint32(12, true),
    nLayer: v.getUint32(16, true),
    dataType: v.getUint32(20, true),
  };
  const fields: [keyof RwkvCppHeader, number][] = [
    ['nVocab', 8],
    ['nEmbed', 12],
    ['nLayer', 16],
  ];
  for (const [key, offset] of fields) {
    const value = header[key];
    if (value === 0 || value > MAX_DIM) {
      throw new MalformedFileError(`header ${key} is ${value}, not a plausible size`, {
        file,
        field: key,
        offset,
      });
    }
  }
  if (header.dataType >= RWKV_CPP_TYPE_NAMES.length) {
    throw new UnknownVersionError(`header data type code ${header.dataType} is not an rwkv.cpp data type`, {
      file,
      field: 'data_type',
      offset: 20,
    });
  }
  return header;
}

function typeName(code: number): string {
  return RWKV_CPP_TYPE_NAMES[code] ?? `code ${code}`;
}

/** One tensor record of an rwkv.cpp file, located but not decoded. */
export interface RwkvCppRecord {
  /** Tensor name as stored. */
  readonly name: string;
  /** Shape, outermost first (the stored sizes reversed). */
  readonly shape: readonly number[];
  /** rwkv.cpp data type code. */
  readonly typeCode: number;
  /** Element type the data decodes from. */
  readonly storedAs: StoredDType;
  /** Byte offset of the record's first field (n_dims). */
  readonly recordOffset: number;
  /** Byte offset of the data. */
  readonly dataOffset: number;
  /** Data length in bytes. */
  readonly byteLength: number;
}

/** Walks the records after the header, validating each; yields them without reading data. */
function* records(src: ByteSource, header: RwkvCppHeader): Generator<RwkvCppRecord> {
  const file = src.name;
  let offset = HEADER_BYTES;
  let index = 0;
  let previous = '';
  while (offset < src.length) {
    const recordStart = offset;
    const where = index === 0 ? 'tensor #0 header' : `tensor #${index} header (after '${previous}')`;
    const fixed = viewOf(src.read(offset, 12, where));
    const nDims = fixed.getInt32(0, true);
    const nameLength = fixed.getInt32(4, true);
    const code = fixed.getInt32(8, true);
    offset += 12;
    if (nDims < 1 || nDims > 3) {
      throw new MalformedFileError(`tensor has ${nDims} dimensions; rwkv.cpp files use 1 to 3`, {
        file,
        field: where,
        offset: recordStart,
      });
    }
    if (nameLength < 1 || nameLength > MAX_NAME_BYTES) {
      throw new MalformedFileError(`tensor name length ${nameLength} is not in 1..${MAX_NAME_BYTES}`, {
        file,
        field: where,
        offset: recordStart + 4,
      });
    }
    const dimsView = viewOf(src.read(offset, 4 * nDims, `${where} sizes`));
    const inner: number[] = [];
    for (let d = 0; d < nDims; d++) inner.push(dimsView.getInt32(4 * d, true));
    offset += 4 * nDims;
    const nameBytes = src.read(offset, nameLength, `tensor #${index} name`);
    const name = new TextDecoder('utf-8').decode(nameBytes);
    offset += nameLength;
    for (let d = 0; d < nDims; d++) {
      const size = inner[d]!;
      if (size < 1 || size > MAX_DIM) {
        throw new MalformedFileError(`dimension ${d} (innermost first) has size ${size}`, {
          file,
          field: name,
          offset: recordStart + 12 + 4 * d,
        });
      }
    }
    const shape = [...inner].reverse();
    const count = inner.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(count)) {
      throw new MalformedFileError(`element count of shape [${shape.join(', ')}] is too large`, {
        file,
        field: name,
        offset: recordStart,
      });
    }
    const stored = DECODABLE.get(code);
    if (stored === undefined) {
      if (code < 0 || code >= RWKV_CPP_TYPE_NAMES.length) {
        throw new UnknownVersionError(`unknown data type code ${code}`, {
          file,
          field: name,
          offset: recordStart + 8,
        });
      }
      const reason =
        code >= 4 && code <= 6
          ? 'a format removed from ggml and rwkv.cpp'
          : 'a ggml type this reader does not decode (supported: FP32, FP16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)';
      throw new UnsupportedDTypeError(`data type ${typeName(code)} (code ${code}) is ${reason}`, {
        file,
        field: name,
        offset: recordStart + 8,
      });
    }
    let byteLength: number;
    if (stored === 'float32' || stored === 'float16') {
      byteLength = count * (stored === 'float32' ? 4 : 2);
    } else {
      if (header.version < 101) {
        throw new UnsupportedDTypeError(
          `quantized ${typeName(code)} data in a version-${header.version} file uses ggml's old block layout; re-quantize with current rwkv.cpp`,
          { file, field: name, offset: recordStart + 8 },
        );
      }
      if (inner[0]! % GGML_BLOCK_VALUES !== 0) {
        throw new MalformedFileError(
          `${typeName(code)} row length ${inner[0]} is not a multiple of the ${GGML_BLOCK_VALUES}-value block`,
          { file, field: name, offset: recordStart + 12 },
        );
      }
      byteLength = quantizedByteLength(stored as GgmlQuantType, count);
    }
    if (offset + byteLength > src.length) {
      throw new TruncatedFileError(
        `tensor data needs ${byteLength} bytes at offset ${offset}, the file ends ${src.length - offset} bytes after it starts`,
        { file, field: name, offset },
      );
    }
    yield {
      name,
      shape,
      typeCode: code,
      storedAs: stored,
      recordOffset: recordStart,
      dataOffset: offset,
      byteLength,
    };
    offset += byteLength;
    previous = name;
    index++;
  }
}

function readFrom(src: ByteSource): WeightFile {
  const file = src.name;
  const header = readHeader(src);
  const tensors = new Map<string, HostTensor>();
  for (const r of records(src, header)) {
    const data = src.read(r.dataOffset, r.byteLength, r.name);
    const count = r.shape.reduce((a, b) => a * b, 1);
    const values =
      r.storedAs === 'float32' || r.storedAs === 'float16'
        ? decodeFloats(data, r.storedAs)
        : dequantize(r.storedAs as GgmlQuantType, data, count);
    if (tensors.has(r.name)) {
      throw new MalformedFileError('tensor name appears twice', {
        file,
        field: r.name,
        offset: r.recordOffset,
      });
    }
    tensors.set(r.name, hostTensor(r.shape, values, r.storedAs));
  }
  return {
    format: 'rwkv-cpp',
    source: file,
    tensors,
    metadata: {
      'rwkv_cpp.version': header.version,
      'rwkv_cpp.n_vocab': header.nVocab,
      'rwkv_cpp.n_embed': header.nEmbed,
      'rwkv_cpp.n_layer': header.nLayer,
      'rwkv_cpp.data_type': typeName(header.dataType),
    },
  };
}

/**
 * Lists the tensor records of an rwkv.cpp file held in memory (name, shape, type, where
 * the data lies) without decoding any data. Throws the same errors as {@link readRwkvCpp}.
 */
export function listRwkvCppRecords(bytes: Uint8Array, source = '<buffer>'): RwkvCppRecord[] {
  const src = bufferSource(bytes, source);
  return [...records(src, readHeader(src))];
}

/** Reads only the 24-byte header of an rwkv.cpp file held in memory (checks magic and version). */
export function readRwkvCppHeader(bytes: Uint8Array, source = '<buffer>'): RwkvCppHeader {
  return readHeader(bufferSource(bytes, source));
}

/**
 * Reads an rwkv.cpp model file held in memory. Tensors keep the names rwkv.cpp uses,
 * shapes are reversed to outermost-first, and every supported data type is decoded to
 * float32 (`storedAs` records FP16 / quantized storage). Header fields go to `metadata`
 * as `rwkv_cpp.version`, `rwkv_cpp.n_vocab`, `rwkv_cpp.n_embed`, `rwkv_cpp.n_layer`,
 * `rwkv_cpp.data_type`.
 *
 * Throws BadMagicError (magic), UnknownVersionError (file version, unknown type code),
 * UnsupportedDTypeError (removed or K-quant types, old quantized layouts),
 * MalformedFileError (absurd dimension counts, sizes or name lengths) and
 * TruncatedFileError (header or tensor data cut short), naming the tensor and offset.
 */
export function readRwkvCpp(bytes: Uint8Array, source = '<buffer>'): WeightFile {
  return readFrom(bufferSource(bytes, source));
}

/** Reads an rwkv.cpp model file from disk, one tensor at a time; see {@link readRwkvCpp}. */
export function readRwkvCppFile(path: string): WeightFile {
  const src = fileSource(path);
  try {
    return readFrom(src);
  } finally {
    src.close();
  }
}
