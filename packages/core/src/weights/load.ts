/**
 * One entry point for every weight format: the format is detected from the file's first
 * bytes, never from its extension.
 */
import { BadMagicError } from '../errors.js';
import { type ByteSource, fileSource, viewOf } from './byte-source.js';
import { canonicalizeRwkvCpp } from './canonical-rwkv-cpp.js';
import { readPth, readPthFile } from './pth/read-pth.js';
import { readRwkvCpp, readRwkvCppFile } from './rwkv-cpp.js';
import { readSafetensors, readSafetensorsFile } from './safetensors.js';
import type { WeightFile, WeightFormat } from './weight-file.js';

/**
 * Detects a weight format from the first bytes of a file (at least 9 bytes for
 * safetensors): little-endian uint32 0x67676d66 ('ggmf') is rwkv.cpp; an 8-byte header
 * length followed by `{` is safetensors; `PK\x03\x04` is a torch.save zip; `\x80` followed
 * by a pickle protocol number (2..5) is a bare pickle, handled by the .pth reader (which
 * scans it and refuses it). Returns undefined for anything else.
 */
export function detectWeightFormat(head: Uint8Array): WeightFormat | undefined {
  if (head.length >= 4 && viewOf(head).getUint32(0, true) === 0x67676d66) return 'rwkv-cpp';
  const rawPickle = head.length >= 2 && head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5;
  if (head.length >= 9 && head[8] === 0x7b && !rawPickle) return 'safetensors';
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04)
    return 'pth';
  if (rawPickle) return 'pth';
  return undefined;
}

function unknownFormat(file: string, head: Uint8Array): BadMagicError {
  const hex = [...head.subarray(0, 9)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return new BadMagicError(
    `first bytes (${hex}) match no weight format: expected rwkv.cpp ('ggmf'), safetensors (8-byte length + '{') or torch.save (zip 'PK')`,
    { file, field: 'magic', offset: 0 },
  );
}

/**
 * Reads weights from memory in whichever format they are. rwkv.cpp files are
 * canonicalized (official names, values and shapes, see `canonicalizeRwkvCpp`).
 * Throws BadMagicError for unknown content, plus each reader's typed errors.
 */
export function loadWeightsFromBytes(bytes: Uint8Array, source = '<buffer>'): WeightFile {
  switch (detectWeightFormat(bytes.subarray(0, 9))) {
    case 'rwkv-cpp':
      return canonicalizeRwkvCpp(readRwkvCpp(bytes, source));
    case 'safetensors':
      return readSafetensors(bytes, source);
    case 'pth':
      return readPth(bytes, source);
    default:
      throw unknownFormat(source, bytes);
  }
}

/**
 * Loads weights from a file in whichever format it is (rwkv.cpp, safetensors or
 * torch.save .pth), detected from its content. rwkv.cpp files are canonicalized to the
 * official names, values and shapes. Throws BadMagicError for unknown content, plus
 * each reader's typed errors.
 */
export function loadWeights(path: string): WeightFile {
  let head: Uint8Array;
  const src: ByteSource = fileSource(path);
  try {
    head = src.read(0, Math.min(9, src.length), 'magic');
  } finally {
    src.close();
  }
  switch (detectWeightFormat(head)) {
    case 'rwkv-cpp':
      return canonicalizeRwkvCpp(readRwkvCppFile(path));
    case 'safetensors':
      return readSafetensorsFile(path);
    case 'pth':
      return readPthFile(path);
    default:
      throw unknownFormat(path, head);
  }
}
