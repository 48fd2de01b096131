import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MalformedFileError,
  type RwkvError,
  ShapeMismatchError,
  TruncatedFileError,
  UnsupportedDTypeError,
} from '../errors.js';
import { floatToHalf } from '../tensor/float16.js';
import {
  readSafetensors,
  readSafetensorsFile,
  writeSafetensors,
  writeSafetensorsFile,
} from './safetensors.js';

function catchError(f: () => unknown): RwkvError {
  try {
    f();
  } catch (e) {
    return e as RwkvError;
  }
  throw new Error('expected an error');
}

/** Builds a safetensors file from a header object and raw data bytes. */
function build(header: Record<string, unknown>, data: Uint8Array, pad = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const tensors = new Map([
  ['emb.weight', { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0.25, 1e-3, -7]) }],
  ['blocks.0.ln1.weight', { shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) }],
  ['scalar', { shape: [], data: new Float32Array([9]) }],
]);

const dir = mkdtempSync(join(tmpdir(), 'safetensors-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('safetensors round trip', () => {
  it('writes and reads float32 exactly, with metadata, in file order', () => {
    const bytes = writeSafetensors(tensors, { metadata: { format: 'pt', note: 'tiny' } });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const w = readSafetensors(bytes, 'rt.safetensors');
    expect(w.format).toBe('safetensors');
    expect(w.metadata).toEqual({ format: 'pt', note: 'tiny' });
    expect([...w.tensors.keys()]).toEqual([...tensors.keys()]);
    for (const [k, t] of tensors) {
      expect(w.tensors.get(k)!.shape).toEqual(t.shape);
      expect(w.tensors.get(k)!.data).toEqual(t.data);
      expect(w.tensors.get(k)!.storedAs).toBe('float32');
    }
  });

  it('writes float16 rounded to nearest and reads it back', () => {
    const path = join(dir, 'h.safetensors');
    writeSafetensorsFile(path, tensors, { dtype: 'float16' });
    const w = readSafetensorsFile(path);
    const t = w.tensors.get('emb.weight')!;
    expect(t.storedAs).toBe('float16');
    expect(t.data.buffer instanceof SharedArrayBuffer).toBe(true);
    for (let i = 0; i < 6; i++) {
      const x = tensors.get('emb.weight')!.data[i]!;
      expect(Math.abs(t.data[i]! - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11);
    }
  });

  it('decodes BF16 and F64', () => {
    const bf = new Uint16Array([0x3f80, 0xc000, 0x4049]); // 1, -2, 3.140625
    const f64 = new Float64Array([0.1, -1e300]);
    const data = new Uint8Array(6 + 16);
    data.set(new Uint8Array(bf.buffer), 0);
    data.set(new Uint8Array(f64.buffer), 6);
    const w = readSafetensors(
      build(
        {
          b: { dtype: 'BF16', shape: [3], data_offsets: [0, 6] },
          d: { dtype: 'F64', shape: [2], data_offsets: [6, 22] },
        },
        data,
      ),
    );
    expect([...w.tensors.get('b')!.data]).toEqual([1, -2, 3.140625]);
    expect(w.tensors.get('b')!.storedAs).toBe('bfloat16');
    expect(w.tensors.get('d')!.data[0]).toBe(Math.fround(0.1));
    expect(w.tensors.get('d')!.data[1]).toBe(Number.NEGATIVE_INFINITY);
    expect(w.tensors.get('d')!.storedAs).toBe('float64');
    // decoded into shared memory, so a worker thread can lower the model without a copy
    for (const k of ['b', 'd']) expect(w.tensors.get(k)!.data.buffer instanceof SharedArrayBuffer).toBe(true);
  });

  it('reads unaligned tensor data (odd header padding)', () => {
    const halves = new Uint16Array([floatToHalf(1.5), floatToHalf(-3)]);
    const w = readSafetensors(
      build({ h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(halves.buffer), 1),
    );
    expect([...w.tensors.get('h')!.data]).toEqual([1.5, -3]);
  });
});

describe('safetensors errors', () => {
  const good = writeSafetensors(tensors);

  it('reports a file cut at several points as TruncatedFileError naming file and field', () => {
    const headerEnd = 8 + Number(new DataView(good.buffer).getBigUint64(0, true));
    for (const cut of [0, 5, 8, 20, headerEnd, headerEnd + 10, good.length - 1]) {
      const e = catchError(() => readSafetensors(good.subarray(0, cut), `cut-${cut}.safetensors`));
      expect(e, `cut ${cut}`).toBeInstanceOf(TruncatedFileError);
      expect(e.code).toBe('TRUNCATED_FILE');
      expect(e.message).toContain(`cut-${cut}.safetensors`);
      expect(e.message).toContain(`field '${e.field}'`);
    }
    const last = catchError(() => readSafetensors(good.subarray(0, good.length - 1), 'x'));
    expect(last.field).toBe('scalar');
  });

  it('refuses an absurd header length', () => {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setBigUint64(0, 1n << 40n, true);
    const e = catchError(() => readSafetensors(bytes, 'big.safetensors'));
    expect(e).toBeInstanceOf(MalformedFileError);
    expect(e.field).toBe('header_length');
  });

  it('refuses invalid JSON', () => {
    const json = new TextEncoder().encode('{"a": ');
    const bytes = new Uint8Array(8 + json.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    const e = catchError(() => readSafetensors(bytes, 'json.safetensors'));
    expect(e).toBeInstanceOf(MalformedFileError);
    expect(e.message).toContain('json.safetensors');
    expect(e.field).toBe('__header__');
  });

  it('refuses offsets that disagree with shape x dtype (ShapeMismatchError naming the tensor)', () => {
    const e = catchError(() =>
      readSafetensors(
        build({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, new Uint8Array(12)),
        's.safetensors',
      ),
    );
    expect(e).toBeInstanceOf(ShapeMismatchError);
    expect(e.field).toBe('w');
    expect(e.message).toContain('s.safetensors');
    expect(e.message).toContain('[2, 2]');
  });

  it('refuses overlapping offsets, gaps and trailing bytes', () => {
    const overlap = catchError(() =>
      readSafetensors(
        build(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
          },
          new Uint8Array(12),
        ),
      ),
    );
    expect(overlap).toBeInstanceOf(MalformedFileError);
    expect(overlap.field).toBe('b');
    expect(overlap.message).toContain('overlap');
    const gap = catchError(() =>
      readSafetensors(build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8))),
    );
    expect(gap).toBeInstanceOf(MalformedFileError);
    expect(gap.field).toBe('a');
    const trailing = catchError(() =>
      readSafetensors(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8))),
    );
    expect(trailing).toBeInstanceOf(MalformedFileError);
  });

  it('refuses offsets beyond the file as TruncatedFileError naming the tensor', () => {
    const e = catchError(() =>
      readSafetensors(
        build({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)),
        'o.safetensors',
      ),
    );
    expect(e).toBeInstanceOf(TruncatedFileError);
    expect(e.field).toBe('a');
  });

  it('refuses integer and unknown dtypes with UnsupportedDTypeError', () => {
    const int = catchError(() =>
      readSafetensors(
        build({ i: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
        'i.safetensors',
      ),
    );
    expect(int).toBeInstanceOf(UnsupportedDTypeError);
    expect(int.code).toBe('UNSUPPORTED_DTYPE');
    expect(int.field).toBe('i');
    const unknown = catchError(() =>
      readSafetensors(build({ q: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1))),
    );
    expect(unknown).toBeInstanceOf(UnsupportedDTypeError);
  });

  it('refuses a writer input whose data length disagrees with its shape', () => {
    const e = catchError(() =>
      writeSafetensors(new Map([['w', { shape: [2, 2], data: new Float32Array(3) }]])),
    );
    expect(e).toBeInstanceOf(ShapeMismatchError);
    expect(e.field).toBe('w');
  });
});
