import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BadMagicError, type RwkvError, UnsafePickleError } from '../errors.js';
import { describeRwkvModel } from './describe.js';
import { detectWeightFormat, loadWeights, loadWeightsFromBytes } from './load.js';
import { writeSafetensors, writeSafetensorsFile } from './safetensors.js';

const RWKV_CPP = fileURLToPath(new URL('../../../../../shared/fixtures/rwkv-cpp/', import.meta.url));
const haveRwkvCpp = existsSync(RWKV_CPP);
if (!haveRwkvCpp) console.warn(`rwkv.cpp fixtures not found at ${RWKV_CPP}: real-file tests are skipped`);
const PTH = fileURLToPath(new URL('../../fixtures/weights/', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'load-weights-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function catchError(f: () => unknown): RwkvError {
  try {
    f();
  } catch (e) {
    return e as RwkvError;
  }
  throw new Error('expected an error');
}

describe('detectWeightFormat', () => {
  it('tells the formats apart from their first bytes', () => {
    expect(detectWeightFormat(new Uint8Array([0x66, 0x6d, 0x67, 0x67, 101, 0, 0, 0, 0]))).toBe('rwkv-cpp');
    expect(detectWeightFormat(writeSafetensors(new Map()).subarray(0, 9))).toBe('safetensors');
    expect(detectWeightFormat(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0]))).toBe('pth');
    expect(detectWeightFormat(new Uint8Array([0x80, 2, 0x8a, 10, 0, 0, 0, 0, 0]))).toBe('pth');
    expect(detectWeightFormat(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 0, 0]))).toBeUndefined();
  });
});

describe('loadWeights', () => {
  it('loads a .pth fixture and refuses the malicious one', () => {
    expect(loadWeights(`${PTH}tiny-state.pth`).format).toBe('pth');
    const e = catchError(() => loadWeights(`${PTH}malicious.pth`));
    expect(e).toBeInstanceOf(UnsafePickleError);
    const raw = catchError(() => loadWeights(`${PTH}malicious-raw.pkl`));
    expect(raw).toBeInstanceOf(UnsafePickleError);
  });

  it('refuses unknown content with BadMagicError naming the file', () => {
    const path = join(dir, 'unknown.bin');
    writeFileSync(path, 'hello world, not weights');
    const e = catchError(() => loadWeights(path));
    expect(e).toBeInstanceOf(BadMagicError);
    expect(e.code).toBe('BAD_MAGIC');
    expect(e.message).toContain(path);
    expect(e.message).toContain("field 'magic'");
  });

  it.skipIf(!haveRwkvCpp)(
    'loads rwkv.cpp files canonicalized, and the same model saved as safetensors',
    () => {
      for (const name of [
        'tiny-rwkv-4v0-660K-FP16.bin',
        'tiny-rwkv-5v2-730K-FP32.bin',
        'tiny-rwkv-7v0-834K-FP32.bin',
      ]) {
        const w = loadWeights(`${RWKV_CPP}${name}`);
        expect(w.format).toBe('rwkv-cpp');
        const d = describeRwkvModel(w);
        const path = join(dir, `${name}.safetensors`);
        writeSafetensorsFile(path, w.tensors);
        const s = loadWeights(path);
        expect(s.format).toBe('safetensors');
        const d2 = describeRwkvModel(s);
        expect(d2.config).toEqual(d.config);
        for (const [k, t] of d.tensors) {
          const bytes = (x: Float32Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
          expect(bytes(d2.tensors.get(k)!.data).equals(bytes(t.data)), k).toBe(true);
        }
        const fromBytes = loadWeightsFromBytes(writeSafetensors(w.tensors), 'mem');
        expect(fromBytes.tensors.size).toBe(w.tensors.size);
      }
    },
  );
});
