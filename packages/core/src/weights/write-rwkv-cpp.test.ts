import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ShapeMismatchError, UnknownVersionError } from '../errors.js';
import type { RwkvVersion } from '../rwkv/config.js';
import { randomRwkvWeights } from '../rwkv/random-weights.js';
import { floatToHalf, halfToFloat } from '../tensor/float16.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { canonicalizeRwkvCpp } from './canonical-rwkv-cpp.js';
import { describeRwkvModel } from './describe.js';
import { listRwkvCppRecords, readRwkvCpp, readRwkvCppFile } from './rwkv-cpp.js';
import { toRwkvCppTensors, writeRwkvCpp, writeRwkvCppFile } from './write-rwkv-cpp.js';

const FIXTURES = fileURLToPath(new URL('../../../../../shared/fixtures/rwkv-cpp/', import.meta.url));
const haveFixtures = existsSync(FIXTURES);
if (!haveFixtures) console.warn(`rwkv.cpp fixtures not found at ${FIXTURES}: real-file tests are skipped`);

const VERSIONS: RwkvVersion[] = [4, 5, 6, 7];
const small = (version: RwkvVersion) =>
  randomRwkvWeights({ version, nLayer: 2, nEmbd: 64, nVocab: 96, headSize: 16 }, 7);

/** Decays the converter recomputes (v4 -exp, v5.2 exp(-exp)), recovered to the inverse's precision. */
const recomputed = (version: RwkvVersion, name: string): boolean =>
  (version === 4 || version === 5) && name.endsWith('att.time_decay');

/** Largest |a - b| / max(|b|, 1). */
function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), 1));
  return worst;
}

/** Largest difference in float32 ulps (at the expected value). */
function maxUlps(got: Float32Array, want: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    if (Object.is(got[i], want[i])) continue;
    const ulp = 2 ** (Math.floor(Math.log2(Math.abs(want[i]!) || 2 ** -126)) - 23);
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / ulp);
  }
  return worst;
}

function expectSameTensors(
  version: RwkvVersion,
  got: ReadonlyMap<string, HostTensor>,
  want: ReadonlyMap<string, HostTensor>,
  halfStored: (name: string) => boolean = () => false,
): void {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, w] of want) {
    const g = got.get(name)!;
    expect(g.shape, name).toEqual(w.shape);
    if (recomputed(version, name)) {
      // v4: ln(-s) is well conditioned; v5.2: ln(-ln(s)) loses digits as s -> 1.
      expect(maxRelDiff(g.data, w.data), name).toBeLessThan(version === 4 ? 1e-6 : 2e-5);
    } else if (halfStored(name)) {
      const rounded = w.data.map((x) => halfToFloat(floatToHalf(x)));
      expect(g.data, name).toEqual(rounded);
    } else {
      expect(g.data, name).toEqual(w.data);
    }
  }
}

describe('writeRwkvCpp', () => {
  for (const version of VERSIONS) {
    it(`round-trips random RWKV-${version === 5 ? '5.2' : version} weights through FP32 (write, read, canonicalize)`, () => {
      const { config, tensors } = small(version);
      const bytes = writeRwkvCpp(config, tensors, { dtype: 'FP32' });
      const file = readRwkvCpp(bytes, 'written.bin');
      expect(file.metadata['rwkv_cpp.version']).toBe(101);
      expect(file.metadata['rwkv_cpp.data_type']).toBe('FP32');
      const canonical = canonicalizeRwkvCpp(file);
      expectSameTensors(version, canonical.tensors, tensors);
      expect(describeRwkvModel(canonical).config).toEqual(config);
    });

    it(`round-trips random RWKV-${version === 5 ? '5.2' : version} weights through FP16, keeping the converter's float32 tensors`, () => {
      const { config, tensors } = small(version);
      const stored = toRwkvCppTensors(config, tensors, { dtype: 'FP16' });
      const bytes = writeRwkvCpp(config, tensors, { dtype: 'FP16' });
      const records = listRwkvCppRecords(bytes);
      expect(records.map((r) => [r.name, r.typeCode])).toEqual(stored.map((s) => [s.name, s.half ? 1 : 0]));
      // The converter's rule: half for 2+ dims unless the name has one of these.
      const keep = ['.time_', '.k_k', '.k_a', '.r_k', '.x_rwkvag', '.x_k', '.w0', '.a0', '.v0'];
      for (const r of records) {
        expect(r.typeCode === 1, r.name).toBe(r.shape.length > 1 && !keep.some((k) => r.name.includes(k)));
      }
      const halfNames = new Set(records.filter((r) => r.typeCode === 1).map((r) => r.name));
      expect(halfNames.has('emb.weight')).toBe(true);
      const file = readRwkvCpp(bytes);
      expect(file.metadata['rwkv_cpp.data_type']).toBe('FP16');
      // Official names of half-stored tensors: v7 LoRA names are unchanged by the transpose.
      expectSameTensors(version, canonicalizeRwkvCpp(file).tensors, tensors, (n) => halfNames.has(n));
    });
  }

  it('stores what the converter stores (names, shapes, transforms)', () => {
    const v7 = small(7);
    const s7 = new Map(toRwkvCppTensors(v7.config, v7.tensors, { dtype: 'FP32' }).map((t) => [t.name, t]));
    expect(s7.get('blocks.1.att.x_rwkvag')!.shape).toEqual([6, 1, 64]);
    expect(s7.has('blocks.1.att.x_r')).toBe(false);
    expect(s7.get('blocks.1.att.w1')!.shape).toEqual([64, 64]); // [C, D] -> [D, C], D = 64
    expect(s7.get('blocks.1.att.g1')!.shape).toEqual([128, 64]);
    expect(s7.get('blocks.1.att.w0')!.shape).toEqual([1, 1, 64]); // no .time_: not squeezed
    const x = s7.get('blocks.1.att.x_rwkvag')!.data;
    expect(x.subarray(64 * 4, 64 * 5)).toEqual(v7.tensors.get('blocks.1.att.x_a')!.data);

    const v6 = small(6);
    const s6 = new Map(toRwkvCppTensors(v6.config, v6.tensors, { dtype: 'FP32' }).map((t) => [t.name, t]));
    expect(s6.get('blocks.0.att.time_decay')!.shape).toEqual([4, 16, 1]);
    expect(s6.get('blocks.0.att.time_faaaa')!.shape).toEqual([4, 16, 1]);
    expect(s6.get('blocks.0.att.time_maa_w1')!.shape).toEqual([160, 64]);
    expect(s6.get('blocks.0.att.time_maa_w2')!.shape).toEqual([5, 64, 32]);
    expect(s6.get('blocks.0.att.time_maa_x')!.shape).toEqual([64]);

    const v4 = small(4);
    const s4 = new Map(toRwkvCppTensors(v4.config, v4.tensors, { dtype: 'FP32' }).map((t) => [t.name, t]));
    const w = v4.tensors.get('blocks.0.att.time_decay')!.data;
    expect(s4.get('blocks.0.att.time_decay')!.data[3]).toBe(-Math.fround(Math.exp(w[3]!)));

    const v5 = small(5);
    const s5 = new Map(toRwkvCppTensors(v5.config, v5.tensors, { dtype: 'FP32' }).map((t) => [t.name, t]));
    expect(s5.get('blocks.0.att.time_decay')!.shape).toEqual([4, 16, 1]);
    expect(s5.get('blocks.0.ffn.time_mix_k')!.shape).toEqual([64]);
  });

  it('refuses a config that disagrees with the tensors', () => {
    const { config, tensors } = small(7);
    expect(() => writeRwkvCpp({ ...config, version: 6 }, tensors)).toThrow(UnknownVersionError);
    expect(() => writeRwkvCpp({ ...config, nLayer: 3 }, tensors)).toThrow(ShapeMismatchError);
    expect(() => writeRwkvCpp({ ...config, nVocab: 97 }, tensors)).toThrow(ShapeMismatchError);
  });

  it('writes the same bytes to a file as in memory', () => {
    const { config, tensors } = small(6);
    const dir = mkdtempSync(join(tmpdir(), 'write-rwkv-cpp-'));
    try {
      const path = join(dir, 'm.bin');
      const n = writeRwkvCppFile(path, config, tensors, { dtype: 'FP16' });
      const disk = readFileSync(path);
      expect(n).toBe(disk.byteLength);
      expect(new Uint8Array(disk)).toEqual(writeRwkvCpp(config, tensors, { dtype: 'FP16' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!haveFixtures)('writeRwkvCpp on the real rwkv.cpp fixtures', () => {
  /**
   * Re-writes the canonicalized fixture and compares it with the file rwkv.cpp's
   * converter wrote: record by record, bytes of every tensor, and, for the decays the
   * converter recomputes with torch's float32 exp, the largest difference in ulps.
   */
  function rewrite(file: string, dtype: 'FP32' | 'FP16') {
    const original = new Uint8Array(readFileSync(join(FIXTURES, file)));
    const canonical = canonicalizeRwkvCpp(readRwkvCppFile(join(FIXTURES, file)));
    const { config } = describeRwkvModel(canonical);
    const written = writeRwkvCpp(config, canonical.tensors, { dtype });
    const a = listRwkvCppRecords(original);
    const b = listRwkvCppRecords(written);
    expect(b.map((r) => [r.name, r.shape, r.typeCode, r.dataOffset])).toEqual(
      a.map((r) => [r.name, r.shape, r.typeCode, r.dataOffset]),
    );
    expect(written.byteLength).toBe(original.byteLength);
    const differing: string[] = [];
    let worstUlps = 0;
    for (let i = 0; i < a.length; i++) {
      const x = original.subarray(a[i]!.dataOffset, a[i]!.dataOffset + a[i]!.byteLength);
      const y = written.subarray(b[i]!.dataOffset, b[i]!.dataOffset + b[i]!.byteLength);
      if (Buffer.compare(x, y) === 0) continue;
      differing.push(a[i]!.name);
      const fx = new Float32Array(x.slice().buffer);
      const fy = new Float32Array(y.slice().buffer);
      worstUlps = Math.max(worstUlps, maxUlps(fy, fx));
    }
    const headerSame = Buffer.compare(original.subarray(0, 24), written.subarray(0, 24)) === 0;
    return { original, written, differing, worstUlps, headerSame };
  }

  it('reproduces tiny-rwkv-7v0-834K-FP32.bin byte for byte', () => {
    const r = rewrite('tiny-rwkv-7v0-834K-FP32.bin', 'FP32');
    expect(r.differing).toEqual([]);
    expect(r.headerSame).toBe(true);
    expect(Buffer.compare(r.written, r.original)).toBe(0);
  });

  it('reproduces tiny-rwkv-7v0-834K-FP16.bin byte for byte', () => {
    const r = rewrite('tiny-rwkv-7v0-834K-FP16.bin', 'FP16');
    expect(Buffer.compare(r.written, r.original)).toBe(0);
  });

  for (const dtype of ['FP32', 'FP16'] as const) {
    // 9 of the 768 decays come back 1 ulp off: s = exp(-exp(w)) moves up to e^w ulps per ulp
    // of w, so the float32 w nearest ln(-ln(s)) need not map back onto s exactly (and
    // torch's vectorized float32 exp is not always correctly rounded).
    it(`reproduces tiny-rwkv-5v2-730K-${dtype}.bin except time_decay, which is within 1 ulp`, () => {
      const r = rewrite(`tiny-rwkv-5v2-730K-${dtype}.bin`, dtype);
      expect(r.headerSame).toBe(true);
      expect(r.differing.every((n) => n.endsWith('.att.time_decay'))).toBe(true);
      expect(r.worstUlps).toBeLessThanOrEqual(1);
    });

    it(`reproduces tiny-rwkv-4v0-660K-${dtype}.bin but for the header's file version (100 there, 101 written)`, () => {
      const r = rewrite(`tiny-rwkv-4v0-660K-${dtype}.bin`, dtype);
      expect(r.differing.every((n) => n.endsWith('.att.time_decay'))).toBe(true);
      expect(r.worstUlps).toBeLessThanOrEqual(1);
      const diffAt: number[] = [];
      for (let i = 0; i < 24; i++) if (r.original[i] !== r.written[i]) diffAt.push(i);
      expect(diffAt).toEqual([4]); // uint32 version at offset 4: 100 -> 101
    });
  }
});
