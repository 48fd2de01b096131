import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  BadMagicError,
  MalformedFileError,
  type RwkvError,
  TruncatedFileError,
  UnknownVersionError,
  UnsupportedDTypeError,
} from '../errors.js';
import { floatToHalf } from '../tensor/float16.js';
import { quantize } from './ggml-quant.js';
import { listRwkvCppRecords, readRwkvCpp, readRwkvCppFile, readRwkvCppHeader } from './rwkv-cpp.js';

/** The rwkv.cpp test models: `../shared/fixtures/rwkv-cpp` relative to the repository root. */
const FIXTURES = fileURLToPath(new URL('../../../../../shared/fixtures/rwkv-cpp/', import.meta.url));
const haveFixtures = existsSync(FIXTURES);
if (!haveFixtures) console.warn(`rwkv.cpp fixtures not found at ${FIXTURES}: real-file tests are skipped`);
const fixture = (name: string): string => `${FIXTURES}${name}`;

function catchError(f: () => unknown): RwkvError {
  try {
    f();
  } catch (e) {
    return e as RwkvError;
  }
  throw new Error('expected an error');
}

interface SynthTensor {
  name: string;
  /** Innermost first, as stored. */
  dims: number[];
  type: number;
  data: Uint8Array;
}

/** Builds an rwkv.cpp file in memory. */
function buildFile(
  tensors: SynthTensor[],
  header: Partial<Record<'magic' | 'version' | 'type', number>> = {},
): Uint8Array {
  const parts: Uint8Array[] = [];
  const h = new DataView(new ArrayBuffer(24));
  h.setUint32(0, header.magic ?? 0x67676d66, true);
  h.setUint32(4, header.version ?? 101, true);
  h.setUint32(8, 256, true);
  h.setUint32(12, 64, true);
  h.setUint32(16, 1, true);
  h.setUint32(20, header.type ?? 0, true);
  parts.push(new Uint8Array(h.buffer));
  for (const t of tensors) {
    const name = new TextEncoder().encode(t.name);
    const r = new DataView(new ArrayBuffer(12 + 4 * t.dims.length));
    r.setInt32(0, t.dims.length, true);
    r.setInt32(4, name.length, true);
    r.setInt32(8, t.type, true);
    for (let i = 0; i < t.dims.length; i++) r.setInt32(12 + 4 * i, t.dims[i]!, true);
    parts.push(new Uint8Array(r.buffer), name, t.data);
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const f32Bytes = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);

describe('readRwkvCpp on synthetic files', () => {
  it('reads FP32 and FP16 tensors and reverses the dimension order', () => {
    const halves = new Uint16Array([1, -2, 0.5, 65504].map(floatToHalf));
    const bytes = buildFile([
      { name: 'a', dims: [3, 2], type: 0, data: f32Bytes([1, 2, 3, 4, 5, 6]) },
      { name: 'b', dims: [4], type: 1, data: new Uint8Array(halves.buffer) },
    ]);
    const w = readRwkvCpp(bytes, 'synthetic.bin');
    expect(w.format).toBe('rwkv-cpp');
    expect(w.tensors.get('a')!.shape).toEqual([2, 3]);
    expect([...w.tensors.get('a')!.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(w.tensors.get('b')!.storedAs).toBe('float16');
    expect([...w.tensors.get('b')!.data]).toEqual([1, -2, 0.5, 65504]);
    expect(w.metadata['rwkv_cpp.version']).toBe(101);
    expect(w.metadata['rwkv_cpp.data_type']).toBe('FP32');
  });

  it('decodes every supported quantized type within its step size', () => {
    const values = new Float32Array(64);
    for (let i = 0; i < 64; i++) values[i] = Math.sin(i * 0.7) * (1 + (i % 5));
    const codes = { q4_0: 2, q4_1: 3, q5_0: 7, q5_1: 8, q8_0: 9 } as const;
    const bounds = { q4_0: 5 / 8, q4_1: 10 / 15, q5_0: 5 / 16, q5_1: 10 / 31, q8_0: 5 / 127 } as const;
    for (const [type, code] of Object.entries(codes) as [keyof typeof codes, number][]) {
      const bytes = buildFile([{ name: 'w', dims: [32, 2], type: code, data: quantize(type, values) }]);
      const t = readRwkvCpp(bytes).tensors.get('w')!;
      expect(t.storedAs).toBe(type);
      expect(t.shape).toEqual([2, 32]);
      expect(t.data.buffer instanceof SharedArrayBuffer, type).toBe(true); // tensor/shared-floats.ts
      let max = 0;
      for (let i = 0; i < 64; i++) max = Math.max(max, Math.abs(t.data[i]! - values[i]!));
      // Half a quantization step (block range / levels), plus a little for the f16 scale.
      expect(max, type).toBeLessThanOrEqual(bounds[type] * 0.5 * 1.01 + 1e-3);
    }
  });

  it('places Q5_1 fifth bits, nibbles, scale and minimum as ggml does', () => {
    // d = 0.5, m = -1, qh bit j set for odd j, qs[j] = j (low nibble) | (15 - j) << 4 (high nibble).
    const block = new Uint8Array(24);
    const v = new DataView(block.buffer);
    v.setUint16(0, floatToHalf(0.5), true);
    v.setUint16(2, floatToHalf(-1), true);
    let qh = 0;
    for (let j = 0; j < 32; j += 2) qh |= 1 << (j + 1);
    v.setUint32(4, qh >>> 0, true);
    for (let j = 0; j < 16; j++) block[8 + j] = j | ((15 - j) << 4);
    const t = readRwkvCpp(buildFile([{ name: 'q', dims: [32], type: 8, data: block }])).tensors.get('q')!;
    for (let j = 0; j < 16; j++) {
      const lo = j | ((j % 2) << 4);
      const hi = (15 - j) | (((j + 16) % 2) << 4);
      expect(t.data[j]).toBe(lo * 0.5 - 1);
      expect(t.data[j + 16]).toBe(hi * 0.5 - 1);
    }
  });

  it('places Q4_0, Q5_0 and Q8_0 values as ggml does', () => {
    const q40 = new Uint8Array(18);
    new DataView(q40.buffer).setUint16(0, floatToHalf(2), true);
    for (let j = 0; j < 16; j++) q40[2 + j] = j | ((15 - j) << 4);
    const a = readRwkvCpp(buildFile([{ name: 'q', dims: [32], type: 2, data: q40 }])).tensors.get('q')!;
    expect(a.data[0]).toBe(-16);
    expect(a.data[15]).toBe(14);
    expect(a.data[16]).toBe(14);
    expect(a.data[31]).toBe(-16);

    const q50 = new Uint8Array(22);
    const v50 = new DataView(q50.buffer);
    v50.setUint16(0, floatToHalf(1), true);
    v50.setUint32(2, 0x80000001, true); // fifth bit of values 0 and 31
    for (let j = 0; j < 16; j++) q50[6 + j] = 0xff;
    const b = readRwkvCpp(buildFile([{ name: 'q', dims: [32], type: 7, data: q50 }])).tensors.get('q')!;
    expect(b.data[0]).toBe(31 - 16);
    expect(b.data[1]).toBe(15 - 16);
    expect(b.data[31]).toBe(31 - 16);

    const q80 = new Uint8Array(34);
    new DataView(q80.buffer).setUint16(0, floatToHalf(0.25), true);
    for (let j = 0; j < 32; j++) q80[2 + j] = (j - 16) & 0xff;
    const c = readRwkvCpp(buildFile([{ name: 'q', dims: [32], type: 9, data: q80 }])).tensors.get('q')!;
    expect(c.data[0]).toBe(-4);
    expect(c.data[31]).toBe(3.75);
  });

  it('refuses a wrong magic with BadMagicError naming file and field', () => {
    const e = catchError(() => readRwkvCpp(buildFile([], { magic: 0x67676a74 }), 'bad.bin'));
    expect(e).toBeInstanceOf(BadMagicError);
    expect(e.code).toBe('BAD_MAGIC');
    expect(e.message).toContain('bad.bin');
    expect(e.message).toContain("field 'magic'");
    expect(e.offset).toBe(0);
  });

  it('refuses an unknown file version with UnknownVersionError', () => {
    const e = catchError(() => readRwkvCpp(buildFile([], { version: 102 }), 'v102.bin'));
    expect(e).toBeInstanceOf(UnknownVersionError);
    expect(e.code).toBe('UNKNOWN_VERSION');
    expect(e.message).toContain('v102.bin');
    expect(e.message).toContain("field 'version'");
    expect(e.message).toContain('102');
  });

  it('names the tensor for an unknown data type code and for unsupported types', () => {
    const unknown = catchError(() =>
      readRwkvCpp(
        buildFile([{ name: 'blocks.0.att.key.weight', dims: [32], type: 42, data: new Uint8Array(128) }]),
        'u.bin',
      ),
    );
    expect(unknown).toBeInstanceOf(UnknownVersionError);
    expect(unknown.field).toBe('blocks.0.att.key.weight');
    expect(unknown.message).toContain('u.bin');
    expect(unknown.message).toContain('42');

    const removed = catchError(() =>
      readRwkvCpp(buildFile([{ name: 'w', dims: [32], type: 5, data: new Uint8Array(64) }]), 'r.bin'),
    );
    expect(removed).toBeInstanceOf(UnsupportedDTypeError);
    expect(removed.code).toBe('UNSUPPORTED_DTYPE');
    expect(removed.message).toContain('Q4_2');

    const kQuant = catchError(() =>
      readRwkvCpp(buildFile([{ name: 'w', dims: [256], type: 13, data: new Uint8Array(256) }])),
    );
    expect(kQuant).toBeInstanceOf(UnsupportedDTypeError);
    expect(kQuant.message).toContain('Q4_K');

    const oldQuant = catchError(() =>
      readRwkvCpp(
        buildFile([{ name: 'w', dims: [32], type: 8, data: new Uint8Array(24) }], { version: 100 }),
      ),
    );
    expect(oldQuant).toBeInstanceOf(UnsupportedDTypeError);
    expect(oldQuant.message).toContain('version-100');
  });

  it('refuses absurd sizes with MalformedFileError naming the tensor', () => {
    const negative = catchError(() =>
      readRwkvCpp(buildFile([{ name: 'neg', dims: [4, -2], type: 0, data: new Uint8Array(0) }]), 'neg.bin'),
    );
    expect(negative).toBeInstanceOf(MalformedFileError);
    expect(negative.field).toBe('neg');
    expect(negative.message).toContain('-2');

    const dims = catchError(() =>
      readRwkvCpp(buildFile([{ name: 'x', dims: [1, 1, 1, 1, 1], type: 0, data: f32Bytes([0]) }])),
    );
    expect(dims).toBeInstanceOf(MalformedFileError);
    expect(dims.message).toContain('5 dimensions');

    const rows = catchError(() =>
      readRwkvCpp(buildFile([{ name: 'odd', dims: [48], type: 8, data: new Uint8Array(36) }])),
    );
    expect(rows).toBeInstanceOf(MalformedFileError);
    expect(rows.field).toBe('odd');
  });

  it('refuses a file shorter than its header with TruncatedFileError', () => {
    const bytes = buildFile([]);
    const e = catchError(() => readRwkvCpp(bytes.subarray(0, 13), 'short.bin'));
    expect(e).toBeInstanceOf(TruncatedFileError);
    expect(e.code).toBe('TRUNCATED_FILE');
    expect(e.message).toContain('short.bin');
    expect(e.message).toContain("field 'header'");
    expect(readRwkvCppHeader(bytes).nEmbed).toBe(64);
  });
});

describe.skipIf(!haveFixtures)('readRwkvCppFile on the rwkv.cpp test models', () => {
  const models = [
    { stem: 'tiny-rwkv-4v0-660K', types: ['FP32', 'FP16'], nEmbd: 128, nLayer: 4, version: 100 },
    { stem: 'tiny-rwkv-5v2-730K', types: ['FP32', 'FP16', 'Q5_1'], nEmbd: 64, nLayer: 12, version: 101 },
    { stem: 'tiny-rwkv-7v0-834K', types: ['FP32', 'FP16'], nEmbd: 64, nLayer: 12, version: 101 },
  ];

  for (const m of models) {
    it(`${m.stem}: FP16${m.types.includes('Q5_1') ? ' and Q5_1' : ''} agree with FP32`, () => {
      const ref = readRwkvCppFile(fixture(`${m.stem}-FP32.bin`));
      expect(ref.metadata['rwkv_cpp.n_embed']).toBe(m.nEmbd);
      expect(ref.metadata['rwkv_cpp.n_layer']).toBe(m.nLayer);
      expect(ref.metadata['rwkv_cpp.version']).toBe(m.version);
      expect(ref.tensors.get('emb.weight')!.shape).toEqual([256, m.nEmbd]);
      for (const type of m.types.slice(1)) {
        const other = readRwkvCppFile(fixture(`${m.stem}-${type}.bin`));
        expect([...other.tensors.keys()]).toEqual([...ref.tensors.keys()]);
        let maxAbs = 0;
        let maxRel = 0;
        let worst = '';
        for (const [name, a] of ref.tensors) {
          const b = other.tensors.get(name)!;
          expect(b.shape, name).toEqual(a.shape);
          let range = 0;
          for (const v of a.data) range = Math.max(range, Math.abs(v));
          for (let i = 0; i < a.data.length; i++) {
            const d = Math.abs(a.data[i]! - b.data[i]!);
            // FP16: round to nearest half, relative 2^-11, or half the subnormal step 2^-24.
            if (type === 'FP16' && d > 2 ** -11 * Math.abs(a.data[i]!) + 2 ** -25) {
              throw new Error(`${name}[${i}]: ${a.data[i]} vs ${b.data[i]}`);
            }
            if (d > maxAbs) {
              maxAbs = d;
              worst = name;
            }
            if (range > 0) maxRel = Math.max(maxRel, d / range);
          }
          if (b.storedAs === 'float32') expect(b.data, name).toEqual(a.data);
          if (b.storedAs === 'q5_1') {
            // ggml quantize_row_q5_1_ref per 32-value block: d = (max - min) / 31 and min stored
            // as halves, q = round((x - min) / d): |x - (q * d + m)| <= d / 2 + 31 |d - half(d)| + |min - half(min)|.
            for (let s = 0; s < a.data.length; s += 32) {
              const block = a.data.subarray(s, s + 32);
              let lo = Number.POSITIVE_INFINITY;
              let hi = Number.NEGATIVE_INFINITY;
              for (const v of block) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
              }
              const d = (hi - lo) / 31;
              const bound = d * (0.5 + 31 * 2 ** -11) + Math.abs(lo) * 2 ** -11 + 1e-7;
              for (let j = 0; j < 32; j++) {
                const diff = Math.abs(block[j]! - b.data[s + j]!);
                if (diff > bound) throw new Error(`${name}[${s + j}]: |diff| ${diff} > block bound ${bound}`);
              }
            }
          }
        }
        console.info(
          `${m.stem} ${type} vs FP32: max |diff| ${maxAbs.toExponential(3)} (${worst}), max diff / tensor max ${maxRel.toExponential(3)}`,
        );
        if (type === 'FP16') {
          expect(maxAbs).toBeGreaterThan(0);
        } else {
          // Q5_1: half a step of (max - min) / 31 per 32-value block, <= 1/31 of the tensor's max |value|.
          expect(maxRel).toBeLessThanOrEqual(1 / 31 + 2 ** -10);
          expect(maxRel).toBeGreaterThan(0);
        }
      }
    });
  }

  it('Q5_1 blocks of the real file are byte-identical to ggml reference quantization of the FP32 weights', () => {
    const ref = readRwkvCppFile(fixture('tiny-rwkv-5v2-730K-FP32.bin'));
    const bytes = new Uint8Array(readFileSync(fixture('tiny-rwkv-5v2-730K-Q5_1.bin')));
    const quantized = listRwkvCppRecords(bytes).filter((r) => r.storedAs === 'q5_1');
    expect(quantized.length).toBe(96);
    for (const r of quantized) {
      const ours = quantize('q5_1', ref.tensors.get(r.name)!.data);
      const theirs = bytes.subarray(r.dataOffset, r.dataOffset + r.byteLength);
      expect(Buffer.from(ours).equals(Buffer.from(theirs)), r.name).toBe(true);
    }
  });

  it('cuts a real file at several points and reports TruncatedFileError naming file, tensor and offset', () => {
    const path = fixture('tiny-rwkv-5v2-730K-Q5_1.bin');
    const bytes = new Uint8Array(readFileSync(path));
    const full = readRwkvCpp(bytes, path);
    expect(full.tensors.size).toBeGreaterThan(0);
    for (const cut of [0, 3, 10, 23, 30, 40, 1000, 50_000, bytes.length - 1]) {
      const e = catchError(() => readRwkvCpp(bytes.subarray(0, cut), `cut-at-${cut}.bin`));
      expect(e, `cut ${cut}`).toBeInstanceOf(TruncatedFileError);
      expect(e.code).toBe('TRUNCATED_FILE');
      expect(e.message).toContain(`cut-at-${cut}.bin`);
      expect(e.field).toBeTruthy();
      expect(e.message).toContain(`field '${e.field}'`);
      expect(e.offset).toBeTypeOf('number');
      if (cut > 1000) expect(e.field).toMatch(/^(blocks\.|emb|head|ln_out|tensor #)/);
    }
    const last = catchError(() => readRwkvCpp(bytes.subarray(0, bytes.length - 1), 'x.bin'));
    expect(last.field).toBe('head.weight');
  });
});
