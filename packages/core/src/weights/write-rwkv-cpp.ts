/**
 * Writer of rwkv.cpp model files (file version 101), doing to an official
 * BlinkDL/RWKV-LM state dict exactly what rwkv.cpp's converter
 * (`python/convert_pytorch_to_ggml.py`, RWKV/rwkv.cpp commit 4358e70) does: the forward
 * direction of the table in `canonical-rwkv-cpp.ts` / docs/notes/rwkv-cpp-format.md.
 *
 * In the converter's order:
 * 1. v7: `blocks.L.att.x_{r,w,k,v,a,g}` are concatenated along dim 0 into
 *    `blocks.L.att.x_rwkvag` [6, 1, C], placed where the layer's first `att.x_*` tensor was.
 * 2. Every tensor whose name contains `.time_` is squeezed (all size-1 dims dropped).
 * 3. Per version (substring rules as the converter has them):
 *    - v7: names containing `.w1 .w2 .a1 .a2 .v1 .v2 .g1 .g2` are transposed;
 *    - v6: `.time_faaaa` unsqueeze(-1); `.time_maa_w1` and `.time_decay_w*` transposed;
 *      `.time_maa_w2` transpose(1, 2); `.time_decay` (not `_w`) reshaped to [H, N, 1];
 *    - v5.2: `.time_decay` -> `exp(-exp(w)).unsqueeze(-1)`; `.time_faaaa` unsqueeze(-1);
 *    - v4: `.time_decay` -> `-exp(w)`.
 * 4. FP16: tensors of 2+ dims become IEEE half (round to nearest even), except names
 *    containing `.time_`, `.k_k`, `.k_a`, `.r_k`, `.x_rwkvag`, `.x_k`, `.w0`, `.a0`, `.v0`.
 *
 * Values are computed as torch computes them on float32 tensors: each `exp` is rounded to
 * float32 before the next operation. Torch's vectorized float32 `exp` is not always
 * correctly rounded, so a recomputed `time_decay` may differ from a file torch wrote in
 * the last bit (v4 and v5.2 only; v6/v7 store no recomputed values).
 *
 * Two deliberate differences from the converter: the six v7 `x_*` vectors are always
 * concatenated in r, w, k, v, a, g order (the order rwkv.cpp's graph slices them in; the
 * converter uses state-dict order, which is the same for official checkpoints), and a
 * tensor that the squeeze would turn into a 0-dim scalar is refused (rwkv.cpp reads only
 * 1 to 3 dims).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { MissingTensorError, ShapeMismatchError, UnknownVersionError } from '../errors.js';
import type { RwkvConfig } from '../rwkv/config.js';
import { encodeFloat16 } from '../tensor/float16.js';
import { type HostTensor, numel } from '../tensor/host-tensor.js';
import { RWKV_CPP_MAGIC } from './rwkv-cpp.js';

/** Data type of an rwkv.cpp file the writer produces (quantized files come from rwkv.cpp's quantizer). */
export type RwkvCppWriteDType = 'FP32' | 'FP16';

/** Options of {@link writeRwkvCpp}. */
export interface WriteRwkvCppOptions {
  /** 'FP32' (every tensor float32) or 'FP16' (matrices half, per the converter's rules). */
  readonly dtype: RwkvCppWriteDType;
}

/** One tensor as the converter stores it. */
export interface RwkvCppStoredTensor {
  /** Name in the rwkv.cpp file. */
  readonly name: string;
  /** Stored shape, outermost first (the file holds it reversed). */
  readonly shape: readonly number[];
  /** Stored values (before any half rounding), row-major. */
  readonly data: Float32Array;
  /** True when the record is FP16 (rwkv_type 1), false for FP32 (rwkv_type 0). */
  readonly half: boolean;
}

/** File version the writer emits (rwkv.cpp's converter writes 101). */
export const RWKV_CPP_WRITE_VERSION = 101;

/** Substrings of names the converter keeps in float32 in FP16 files. */
const KEEP_FLOAT32 = ['.time_', '.k_k', '.k_a', '.r_k', '.x_rwkvag', '.x_k', '.w0', '.a0', '.v0'];
/** Substrings of v7 names the converter transposes. */
const V7_TRANSPOSED = ['.w1', '.w2', '.a1', '.a2', '.v1', '.v2', '.g1', '.g2'];
/** Order of the v7 token-shift vectors in `x_rwkvag` (rwkv.cpp's graph slices them so). */
const V7_MIX = ['r', 'w', 'k', 'v', 'a', 'g'];

type Arch = '4' | '5.1' | '5.2' | '6' | '7';

/** The converter's architecture detection (state-dict names). */
function converterArch(tensors: ReadonlyMap<string, HostTensor>): Arch {
  if (tensors.has('blocks.0.att.k_k')) return '7';
  if (tensors.has('blocks.0.att.time_maa_x')) return '6';
  if (tensors.has('blocks.0.att.ln_x.weight')) return tensors.has('blocks.0.att.gate.weight') ? '5.2' : '5.1';
  return '4';
}

/**
 * The tensors rwkv.cpp's converter would write for an official state dict, in file
 * order, with stored names, shapes, values and storage type. `config` gives the header
 * sizes and must agree with the tensors (version as the converter detects it from the
 * names, `emb.weight` [nVocab, nEmbd], nLayer blocks).
 *
 * Throws UnknownVersionError (names say another version than `config`), MissingTensorError
 * (`emb.weight`, a v7 `x_*` or v6 `time_faaaa` absent) and ShapeMismatchError.
 */
export function toRwkvCppTensors(
  config: RwkvConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  options: WriteRwkvCppOptions,
): RwkvCppStoredTensor[] {
  checkHeader(config, tensors);
  const arch = converterArch(tensors);
  const expected = config.version === 5 ? '5.2' : String(config.version);
  if (arch !== expected) {
    throw new UnknownVersionError(
      `config says RWKV-${expected} but the tensor names are RWKV-${arch} by rwkv.cpp's converter's rules (blocks.0.att.k_k -> 7, time_maa_x -> 6, ln_x.weight + gate.weight -> 5.2, else 4)`,
      { field: 'version' },
    );
  }

  // Step 1 (v7): x_r..x_g -> x_rwkvag at the position of the layer's first att.x_* tensor.
  const entries: [string, HostTensor][] = [];
  const mixDone = new Set<string>();
  for (const [name, t] of tensors) {
    if (arch === '7' && name.includes('att.x_')) {
      const layer = name.split('.')[1]!;
      if (mixDone.has(layer)) continue;
      mixDone.add(layer);
      entries.push([`blocks.${layer}.att.x_rwkvag`, concatMix(tensors, layer, config.nEmbd)]);
      continue;
    }
    entries.push([name, t]);
  }

  const nHead = arch === '6' ? headCount(tensors, config) : 0;
  const half = options.dtype === 'FP16';
  const out: RwkvCppStoredTensor[] = [];
  for (const [name, t] of entries) {
    let shape = [...t.shape];
    let data = t.data;
    if (data.length !== numel(shape)) {
      throw new ShapeMismatchError(
        `data has ${data.length} elements, shape [${shape.join(', ')}] needs ${numel(shape)}`,
        { field: name },
      );
    }
    const has = (s: string): boolean => name.includes(s);
    if (has('.time_')) shape = shape.filter((d) => d !== 1);

    switch (arch) {
      case '7':
        if (V7_TRANSPOSED.some(has)) ({ shape, data } = transpose01(name, shape, data));
        break;
      case '6':
        if (has('.time_faaaa')) shape = [...shape, 1];
        if (has('.time_maa_w1') || has('.time_decay_w')) ({ shape, data } = transpose01(name, shape, data));
        if (has('.time_maa_w2')) ({ shape, data } = transpose12(name, shape, data));
        if (has('.time_decay') && !has('_w')) shape = [nHead, numel(shape) / nHead, 1];
        break;
      case '5.1':
      case '5.2':
        if (has('.time_decay')) {
          data = data.map((w) => Math.fround(Math.exp(-Math.fround(Math.exp(w)))));
          shape = arch === '5.2' ? [...shape, 1] : [numel(shape), 1, 1];
        }
        if (has('.time_first')) {
          data = data.map((u) => Math.fround(Math.exp(u)));
          shape = [numel(shape), 1, 1];
        }
        if (has('.time_faaaa')) shape = [...shape, 1];
        break;
      case '4':
        if (has('.time_decay')) data = data.map((w) => -Math.fround(Math.exp(w)));
        break;
    }
    if (shape.length < 1 || shape.length > 3) {
      throw new ShapeMismatchError(
        `stored shape [${shape.join(', ')}] has ${shape.length} dimensions; rwkv.cpp files hold 1 to 3`,
        { field: name },
      );
    }
    out.push({
      name,
      shape,
      data,
      half: half && shape.length > 1 && !KEEP_FLOAT32.some(has),
    });
  }
  return out;
}

/**
 * Serializes an official state dict (names, values and shapes as `describeRwkvModel`
 * gives them) to an rwkv.cpp file held in memory, exactly as rwkv.cpp's converter would
 * (see the module docs). `canonicalizeRwkvCpp(readRwkvCpp(bytes))` gives the tensors back
 * (v4/v5.2 decays to the precision of the inverse; everything else exactly, FP16 matrices
 * to half precision).
 */
export function writeRwkvCpp(
  config: RwkvConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  options: WriteRwkvCppOptions = { dtype: 'FP32' },
): Uint8Array {
  const chunks = [...rwkvCppChunks(config, tensors, options)];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Writes {@link writeRwkvCpp}'s bytes to `path`, one tensor at a time (a 0.1B FP32
 * model is never held twice in memory). Returns the number of bytes written.
 */
export function writeRwkvCppFile(
  path: string,
  config: RwkvConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  options: WriteRwkvCppOptions = { dtype: 'FP32' },
): number {
  // Convert first so a bad model throws before the file is created.
  const stored = toRwkvCppTensors(config, tensors, options);
  const fd = openSync(path, 'w');
  let total = 0;
  try {
    for (const c of chunksOf(config, stored, options)) {
      let off = 0;
      while (off < c.byteLength) off += writeSync(fd, c, off, c.byteLength - off);
      total += c.byteLength;
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

function rwkvCppChunks(
  config: RwkvConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  options: WriteRwkvCppOptions,
): Generator<Uint8Array> {
  return chunksOf(config, toRwkvCppTensors(config, tensors, options), options);
}

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Header, then per tensor its record header and its data. */
function* chunksOf(
  config: RwkvConfig,
  stored: readonly RwkvCppStoredTensor[],
  options: WriteRwkvCppOptions,
): Generator<Uint8Array> {
  const header = new Uint8Array(24);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, RWKV_CPP_MAGIC, true);
  hv.setUint32(4, RWKV_CPP_WRITE_VERSION, true);
  hv.setUint32(8, config.nVocab, true);
  hv.setUint32(12, config.nEmbd, true);
  hv.setUint32(16, config.nLayer, true);
  hv.setUint32(20, options.dtype === 'FP16' ? 1 : 0, true);
  yield header;
  const encoder = new TextEncoder();
  for (const t of stored) {
    const name = encoder.encode(t.name);
    const rec = new Uint8Array(12 + 4 * t.shape.length + name.byteLength);
    const rv = new DataView(rec.buffer);
    rv.setInt32(0, t.shape.length, true);
    rv.setInt32(4, name.byteLength, true);
    rv.setInt32(8, t.half ? 1 : 0, true);
    // ggml order: innermost (row length) first.
    const n = t.shape.length;
    for (let i = 0; i < n; i++) rv.setInt32(12 + 4 * i, t.shape[n - 1 - i]!, true);
    rec.set(name, 12 + 4 * n);
    yield rec;
    yield t.half ? halfBytes(t.data) : floatBytes(t.data);
  }
}

function floatBytes(data: Float32Array): Uint8Array {
  if (hostIsLittleEndian) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.length * 4);
  const v = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) v.setFloat32(i * 4, data[i]!, true);
  return out;
}

function halfBytes(data: Float32Array): Uint8Array {
  const halves = encodeFloat16(data);
  if (hostIsLittleEndian) return new Uint8Array(halves.buffer, halves.byteOffset, halves.byteLength);
  const out = new Uint8Array(halves.length * 2);
  const v = new DataView(out.buffer);
  for (let i = 0; i < halves.length; i++) v.setUint16(i * 2, halves[i]!, true);
  return out;
}

/** Checks the header sizes the converter derives (emb.weight, block count) against `config`. */
function checkHeader(config: RwkvConfig, tensors: ReadonlyMap<string, HostTensor>): void {
  const emb = tensors.get('emb.weight');
  if (emb === undefined) throw new MissingTensorError('required tensor is absent', { field: 'emb.weight' });
  if (emb.shape.length !== 2 || emb.shape[0] !== config.nVocab || emb.shape[1] !== config.nEmbd) {
    throw new ShapeMismatchError(
      `emb.weight is [${emb.shape.join(', ')}], config says [${config.nVocab}, ${config.nEmbd}]`,
      { field: 'emb.weight' },
    );
  }
  let nLayer = 0;
  while (tensors.has(`blocks.${nLayer}.ln1.weight`)) nLayer++;
  if (nLayer !== config.nLayer) {
    throw new ShapeMismatchError(`the tensors have ${nLayer} blocks, config says ${config.nLayer}`, {
      field: `blocks.${nLayer}.ln1.weight`,
    });
  }
}

/** v7 `x_rwkvag` of one layer: [6, 1, C] in r, w, k, v, a, g order. */
function concatMix(tensors: ReadonlyMap<string, HostTensor>, layer: string, nEmbd: number): HostTensor {
  const data = new Float32Array(6 * nEmbd);
  V7_MIX.forEach((m, i) => {
    const name = `blocks.${layer}.att.x_${m}`;
    const t = tensors.get(name);
    if (t === undefined) throw new MissingTensorError('required tensor of RWKV-7 is absent', { field: name });
    if (t.data.length !== nEmbd) {
      throw new ShapeMismatchError(`expected [1, 1, ${nEmbd}], found [${t.shape.join(', ')}]`, {
        field: name,
      });
    }
    data.set(t.data, i * nEmbd);
  });
  return { shape: [6, 1, nEmbd], data, storedAs: 'float32' };
}

/** v6 head count as the converter takes it: `blocks.0.att.time_faaaa.shape[0]`. */
function headCount(tensors: ReadonlyMap<string, HostTensor>, config: RwkvConfig): number {
  const t = tensors.get('blocks.0.att.time_faaaa');
  if (t === undefined) {
    throw new MissingTensorError('required tensor of RWKV-6 is absent', { field: 'blocks.0.att.time_faaaa' });
  }
  const h = t.shape[0]!;
  if (config.nEmbd % h !== 0) {
    throw new ShapeMismatchError(
      `time_faaaa says ${h} heads, which does not divide n_embd = ${config.nEmbd}`,
      {
        field: 'blocks.0.att.time_faaaa',
      },
    );
  }
  return h;
}

function transpose01(
  name: string,
  shape: readonly number[],
  data: Float32Array,
): { shape: number[]; data: Float32Array } {
  if (shape.length !== 2) {
    throw new ShapeMismatchError(`expected a matrix to transpose, got [${shape.join(', ')}]`, {
      field: name,
    });
  }
  const [rows, cols] = shape as [number, number];
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return { shape: [cols, rows], data: out };
}

function transpose12(
  name: string,
  shape: readonly number[],
  data: Float32Array,
): { shape: number[]; data: Float32Array } {
  if (shape.length !== 3) {
    throw new ShapeMismatchError(`expected 3 dimensions to transpose(1, 2), got [${shape.join(', ')}]`, {
      field: name,
    });
  }
  const [a, b, c] = shape as [number, number, number];
  const out = new Float32Array(data.length);
  for (let i = 0; i < a; i++) {
    const base = i * b * c;
    for (let j = 0; j < b; j++) for (let k = 0; k < c; k++) out[base + k * b + j] = data[base + j * c + k]!;
  }
  return { shape: [a, c, b], data: out };
}
