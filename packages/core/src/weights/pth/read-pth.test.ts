import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { unzipSync, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MalformedFileError,
  type RwkvError,
  TruncatedFileError,
  UnknownVersionError,
  UnsafePickleError,
  UnsupportedDTypeError,
} from '../../errors.js';
import { readPth, readPthFile } from './read-pth.js';

/** Fixtures made by packages/core/fixtures/weights/make-fixtures.py. */
const DIR = fileURLToPath(new URL('../../../fixtures/weights/', import.meta.url));
const path = (name: string): string => `${DIR}${name}`;

interface Expected {
  payloadMarker: string;
  files: Record<string, Record<string, { shape: number[]; dtype: string; values: number[] }>>;
}
const expected = JSON.parse(readFileSync(path('expected.json'), 'utf8')) as Expected;

function catchError(f: () => unknown): RwkvError {
  try {
    f();
  } catch (e) {
    return e as RwkvError;
  }
  throw new Error('expected an error');
}

describe('readPth on torch.save-format fixtures', () => {
  for (const name of ['tiny-state.pth', 'nested.pth', 'big-endian.pth']) {
    it(`${name}: every tensor has the expected shape, dtype and values`, () => {
      const w = readPthFile(path(name));
      expect(w.format).toBe('pth');
      const want = expected.files[name]!;
      expect([...w.tensors.keys()]).toEqual(Object.keys(want));
      for (const [tensorName, e] of Object.entries(want)) {
        const t = w.tensors.get(tensorName)!;
        expect(t.shape, tensorName).toEqual(e.shape);
        expect(t.storedAs, tensorName).toBe(e.dtype);
        expect([...t.data], tensorName).toEqual(e.values);
        expect(t.data.buffer instanceof SharedArrayBuffer, tensorName).toBe(true); // tensor/shared-floats.ts
      }
    });
  }

  // Checkpoints written by real PyTorch, described in fixtures/weights/real-torch.json (see README there).
  const realIndex = path('real-torch.json');
  const real = existsSync(realIndex)
    ? (JSON.parse(readFileSync(realIndex, 'utf8')) as Expected['files'])
    : {};
  for (const [name, want] of Object.entries(real)) {
    it(`${name} (written by PyTorch): names, shapes, dtypes and values`, () => {
      const w = readPthFile(path(name));
      expect([...w.tensors.keys()].sort()).toEqual(Object.keys(want).sort());
      for (const [tensorName, e] of Object.entries(want)) {
        const t = w.tensors.get(tensorName)!;
        expect(t.shape, tensorName).toEqual(e.shape);
        expect(t.storedAs, tensorName).toBe(e.dtype);
        expect([...t.data], tensorName).toEqual(e.values.map(Math.fround));
      }
    });
  }

  it('makes strided views contiguous: transpose and offset slice of one storage', () => {
    const w = readPthFile(path('tiny-state.pth'));
    const base = w.tensors.get('base')!;
    const at = (r: number, c: number): number => base.data[r * 4 + c]!;
    const tr = w.tensors.get('view.transposed')!;
    expect(tr.shape).toEqual([4, 3]);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 3; c++) expect(tr.data[r * 3 + c]).toBe(at(c, r));
    const sl = w.tensors.get('view.slice')!;
    expect([...sl.data]).toEqual([at(1, 1), at(1, 2), at(2, 1), at(2, 2)]);
    expect(w.tensors.get('scalar')!.shape).toEqual([]);
    expect([...w.tensors.get('scalar')!.data]).toEqual([42.5]);
  });

  it('accepts any top-level folder name and keeps scalars as metadata', () => {
    const w = readPthFile(path('nested.pth'));
    expect(w.metadata['pth.archive']).toBe('my_model');
    expect(w.metadata['pth.epoch']).toBe(7);
    expect(w.metadata['pth.note']).toBe('hi');
    expect(w.tensors.has('model.emb.weight')).toBe(true);
  });

  it('reads the same from memory as from disk', () => {
    const bytes = new Uint8Array(readFileSync(path('tiny-state.pth')));
    const a = readPth(bytes, 'mem.pth');
    const b = readPthFile(path('tiny-state.pth'));
    expect(a.source).toBe('mem.pth');
    for (const [k, t] of b.tensors) expect(a.tensors.get(k)!.data).toEqual(t.data);
  });
});

describe('readPth refuses malicious pickles without running them', () => {
  const marker = expected.payloadMarker;
  beforeAll(() => rmSync(marker, { force: true }));

  it('malicious.pth (os.system via REDUCE inside the torch zip layout)', () => {
    const file = path('malicious.pth');
    const e = catchError(() => readPthFile(file));
    expect(e).toBeInstanceOf(UnsafePickleError);
    expect(e.code).toBe('UNSAFE_PICKLE');
    expect(e.field).toBe('os.system');
    expect(e.message).toContain(file);
    expect(e.message).toContain("field 'os.system'");
    expect(e.offset).toBe(167); // the GLOBAL opcode, after a harmless tensor
    expect(existsSync(marker)).toBe(false);
  });

  it('malicious-raw.pkl (a bare pickle, not a zip)', () => {
    const file = path('malicious-raw.pkl');
    const e = catchError(() => readPthFile(file));
    expect(e).toBeInstanceOf(UnsafePickleError);
    expect(e.field).toBe('os.system');
    expect(e.message).toContain(file);
    expect(e.offset).toBe(2);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('readPth errors', () => {
  const bytes = new Uint8Array(readFileSync(path('tiny-state.pth')));

  it('reports an archive cut at several points as TruncatedFileError naming the file', () => {
    for (const cut of [10, 100, 1000, bytes.length - 30, bytes.length - 1]) {
      const e = catchError(() => readPth(bytes.subarray(0, cut), `cut-${cut}.pth`));
      expect(e, `cut ${cut}`).toBeInstanceOf(TruncatedFileError);
      expect(e.code).toBe('TRUNCATED_FILE');
      expect(e.message).toContain(`cut-${cut}.pth`);
      expect(e.message).toContain(`field '${e.field}'`);
    }
  });

  it('detects corrupted storage bytes by CRC', () => {
    const copy = bytes.slice();
    copy[1030] = copy[1030]! ^ 0xff; // inside data/0 (data starts at 1024)
    const e = catchError(() => readPth(copy, 'flipped.pth'));
    expect(e).toBeInstanceOf(MalformedFileError);
    expect(e.message).toContain('CRC-32');
  });

  it('refuses a legacy (non-zip) torch.save file after scanning it', () => {
    // magic number pickle, then protocol version, as torch's legacy _save begins.
    const legacy = new Uint8Array([
      0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02,
      0x4d, 0xe9, 0x03, 0x2e,
    ]);
    const e = catchError(() => readPth(legacy, 'legacy.pt'));
    expect(e).toBeInstanceOf(UnknownVersionError);
    expect(e.message).toContain('legacy');
    expect(e.message).toContain('legacy.pt');
  });

  it('names the tensor whose dtype is not a float type', () => {
    // Swap FloatStorage for LongStorage in emb.weight's persistent id.
    const e = catchError(() => readPth(patchPickleGlobal(bytes), 'long.pth'));
    expect(e).toBeInstanceOf(UnsupportedDTypeError);
    expect(e.field).toBe('emb.weight');
    expect(e.message).toContain('int64');
  });
});

it('reads an archive whose entries are deflate-compressed', () => {
  const bytes = new Uint8Array(readFileSync(path('tiny-state.pth')));
  const w = readPth(
    rezip(bytes, (_n, d) => d, 6),
    'deflated.pth',
  );
  const ref = readPth(bytes);
  for (const [k, t] of ref.tensors) expect(w.tensors.get(k)!.data).toEqual(t.data);
});

/** Rewrites tiny-state.pth's first `torch FloatStorage` global into `torch LongStorage`. */
function patchPickleGlobal(zipBytes: Uint8Array): Uint8Array {
  return rezip(zipBytes, (name, data) => {
    if (!name.endsWith('data.pkl')) return data;
    const text = Array.from(data, (b) => String.fromCharCode(b)).join('');
    const patched = text.replace('ctorch\nFloatStorage\n', 'ctorch\nLongStorage\n');
    return Uint8Array.from(patched, (c) => c.charCodeAt(0));
  });
}

/** Unzips, edits each entry, zips again (level 0 = stored, as torch writes). */
function rezip(
  zipBytes: Uint8Array,
  edit: (name: string, data: Uint8Array) => Uint8Array,
  level: 0 | 6 = 0,
): Uint8Array {
  const files = unzipSync(zipBytes);
  const out: Record<string, Uint8Array> = {};
  for (const [name, data] of Object.entries(files)) out[name] = edit(name, data);
  return zipSync(out, { level });
}
