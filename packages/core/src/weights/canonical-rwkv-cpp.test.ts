import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MalformedFileError, type RwkvError, ShapeMismatchError } from '../errors.js';
import type { RwkvVersion } from '../rwkv/config.js';
import { type HostTensor, hostTensor, numel } from '../tensor/host-tensor.js';
import { canonicalizeRwkvCpp, canonicalizeRwkvCppDetailed, type RwkvCppArch } from './canonical-rwkv-cpp.js';
import { describeRwkvModel, expectedTensors } from './describe.js';
import { readRwkvCppFile } from './rwkv-cpp.js';
import type { WeightFile } from './weight-file.js';

const FIXTURES = fileURLToPath(new URL('../../../../../shared/fixtures/rwkv-cpp/', import.meta.url));
const haveFixtures = existsSync(FIXTURES);
if (!haveFixtures) console.warn(`rwkv.cpp fixtures not found at ${FIXTURES}: real-file tests are skipped`);

function catchError(f: () => unknown): RwkvError {
  try {
    f();
  } catch (e) {
    return e as RwkvError;
  }
  throw new Error('expected an error');
}

/**
 * What rwkv.cpp's python/convert_pytorch_to_ggml.py does to an official state dict,
 * re-stated here (float32 arithmetic, as torch does on float tensors) to test the inverse.
 */
function convertLikeRwkvCpp(
  official: ReadonlyMap<string, HostTensor>,
  arch: RwkvCppArch,
): Map<string, HostTensor> {
  const f = Math.fround;
  const out = new Map<string, HostTensor>();
  const nHead = official.get('blocks.0.att.time_faaaa')?.shape[0] ?? 0;
  const transpose = (t: HostTensor): HostTensor => {
    const [r, c] = t.shape as [number, number];
    const d = new Float32Array(t.data.length);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) d[j * r + i] = t.data[i * c + j]!;
    return hostTensor([c, r], d);
  };
  for (const [k, t0] of official) {
    let t = t0;
    if (arch === '7' && k.includes('att.x_')) {
      const layer = k.split('.')[1];
      const key = `blocks.${layer}.att.x_rwkvag`;
      const prev = out.get(key);
      const data = new Float32Array((prev?.data.length ?? 0) + t.data.length);
      if (prev) data.set(prev.data);
      data.set(t.data, prev?.data.length ?? 0);
      out.set(key, hostTensor([(prev?.shape[0] ?? 0) + 1, 1, t.shape[2]!], data));
      continue;
    }
    if (k.includes('.time_'))
      t = hostTensor(
        t.shape.filter((d) => d !== 1),
        t.data,
      );
    if (arch === '7') {
      if (['.w1', '.w2', '.a1', '.a2', '.v1', '.v2', '.g1', '.g2'].some((s) => k.includes(s)))
        t = transpose(t);
    } else if (arch === '6') {
      if (k.includes('.time_faaaa')) t = hostTensor([...t.shape, 1], t.data);
      if (k.includes('.time_maa_w1') || k.includes('.time_decay_w')) t = transpose(t);
      if (k.includes('.time_maa_w2')) {
        const [a, b, c] = t.shape as [number, number, number];
        const d = new Float32Array(t.data.length);
        for (let i = 0; i < a; i++)
          for (let j = 0; j < b; j++)
            for (let l = 0; l < c; l++) d[i * b * c + l * b + j] = t.data[i * b * c + j * c + l]!;
        t = hostTensor([a, c, b], d);
      }
      if (k.includes('.time_decay') && !k.includes('_w'))
        t = hostTensor([nHead, numel(t.shape) / nHead, 1], t.data);
    } else if (arch === '5.2') {
      if (k.includes('.time_decay'))
        t = hostTensor(
          [...t.shape, 1],
          t.data.map((x) => f(Math.exp(-f(Math.exp(x))))),
        );
      if (k.includes('.time_faaaa')) t = hostTensor([...t.shape, 1], t.data);
    } else if (arch === '4') {
      if (k.includes('.time_decay'))
        t = hostTensor(
          t.shape,
          t.data.map((x) => -f(Math.exp(x))),
        );
    }
    out.set(k, t);
  }
  return out;
}

/** A random official state dict with the given sizes (values in [-1, 1), decays in [-6, 1)). */
function randomOfficial(version: RwkvVersion, loraDims: Record<string, number>): Map<string, HostTensor> {
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const nEmbd = 64;
  const headSize = version === 4 ? 1 : 16;
  const config = {
    version,
    nLayer: 2,
    nEmbd,
    nVocab: 256,
    dimFfn: 224,
    headSize,
    nHead: nEmbd / headSize,
    loraDims,
  };
  const out = new Map<string, HostTensor>();
  for (const spec of expectedTensors(config)) {
    const data = new Float32Array(numel(spec.shape));
    const decay = spec.name.endsWith('time_decay');
    for (let i = 0; i < data.length; i++) data[i] = decay ? -6 + 7 * rand() : rand() * 2 - 1;
    out.set(spec.name, hostTensor(spec.shape, data));
  }
  return out;
}

const asFile = (tensors: Map<string, HostTensor>, metadata: Record<string, number> = {}): WeightFile => ({
  format: 'rwkv-cpp',
  source: 'synthetic.bin',
  tensors,
  metadata,
});

/** Largest difference in units of the float32 spacing at the expected value. */
function maxUlps(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const ulp = 2 ** (Math.floor(Math.log2(Math.abs(a[i]!) || 2 ** -149)) - 23);
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / ulp);
  }
  return worst;
}

describe('canonicalizeRwkvCpp inverts the converter on synthetic official weights', () => {
  const cases: [RwkvCppArch, RwkvVersion, Record<string, number>][] = [
    ['4', 4, {}],
    ['5.2', 5, {}],
    ['6', 6, { mix: 32, decay: 64 }],
    ['7', 7, { w: 32, a: 32, v: 32, g: 64 }],
  ];
  for (const [arch, version, lora] of cases) {
    it(`RWKV ${arch}: official -> rwkv.cpp -> canonical gives the official names, shapes and values`, () => {
      const official = randomOfficial(version, lora);
      const stored = convertLikeRwkvCpp(official, arch);
      const result = canonicalizeRwkvCppDetailed(asFile(stored));
      expect(result.arch).toBe(arch);
      expect(new Set(result.file.tensors.keys())).toEqual(new Set(official.keys()));
      for (const [name, t] of official) {
        const c = result.file.tensors.get(name)!;
        expect(c.shape, name).toEqual(t.shape);
        const tolerance = name.endsWith('att.time_decay') && (arch === '4' || arch === '5.2') ? 1e-5 : 0;
        let worst = 0;
        for (let i = 0; i < t.data.length; i++) {
          worst = Math.max(worst, Math.abs(c.data[i]! - t.data[i]!) / Math.max(1, Math.abs(t.data[i]!)));
        }
        expect(worst, name).toBeLessThanOrEqual(tolerance);
      }
      const d = describeRwkvModel(result.file);
      expect(d.config.version).toBe(version);
      expect(d.loraDims).toEqual(lora);
      expect(result.changes.length).toBeGreaterThan(0);
    });
  }
});

describe('canonicalizeRwkvCpp range checks', () => {
  it('refuses a positive v4 time_decay (not -exp(w))', () => {
    const t = new Map([['blocks.0.att.time_decay', hostTensor([2], new Float32Array([-1, 0.5]))]]);
    const e = catchError(() => canonicalizeRwkvCpp(asFile(t)));
    expect(e).toBeInstanceOf(MalformedFileError);
    expect(e.field).toBe('blocks.0.att.time_decay');
    expect(e.message).toContain('synthetic.bin');
  });

  it('refuses an x_rwkvag of the wrong size with ShapeMismatchError', () => {
    const t = new Map([
      ['emb.weight', hostTensor([2, 4], new Float32Array(8))],
      ['blocks.0.att.r_k', hostTensor([1, 4], new Float32Array(4))],
      ['blocks.0.att.x_rwkvag', hostTensor([5, 1, 4], new Float32Array(20))],
    ]);
    const e = catchError(() => canonicalizeRwkvCpp(asFile(t)));
    expect(e).toBeInstanceOf(ShapeMismatchError);
    expect(e.field).toBe('blocks.0.att.x_rwkvag');
  });

  it('maps decays stored as exactly 0 or 1 to finite values that store the same float32', () => {
    const t = new Map([
      ['blocks.0.att.ln_x.weight', hostTensor([2], new Float32Array(2))],
      ['blocks.0.att.gate.weight', hostTensor([2, 2], new Float32Array(4))],
      ['blocks.0.att.time_decay', hostTensor([1, 2, 1], new Float32Array([0, 1]))],
    ]);
    const w = canonicalizeRwkvCpp(asFile(t)).tensors.get('blocks.0.att.time_decay')!;
    expect(w.shape).toEqual([1, 2]);
    expect(Math.fround(Math.exp(-Math.exp(w.data[0]!)))).toBe(0);
    expect(Math.fround(Math.exp(-Math.exp(w.data[1]!)))).toBe(1);
  });
});

describe.skipIf(!haveFixtures)('canonical rwkv.cpp test models', () => {
  const models = [
    {
      file: 'tiny-rwkv-4v0-660K-FP32.bin',
      arch: '4',
      version: 4,
      nEmbd: 128,
      nLayer: 4,
      nHead: 128,
      headSize: 1,
      dimFfn: 256,
    },
    {
      file: 'tiny-rwkv-5v2-730K-FP32.bin',
      arch: '5.2',
      version: 5,
      nEmbd: 64,
      nLayer: 12,
      nHead: 8,
      headSize: 8,
      dimFfn: 256,
    },
    {
      file: 'tiny-rwkv-5v2-730K-Q5_1.bin',
      arch: '5.2',
      version: 5,
      nEmbd: 64,
      nLayer: 12,
      nHead: 8,
      headSize: 8,
      dimFfn: 256,
    },
    {
      file: 'tiny-rwkv-7v0-834K-FP32.bin',
      arch: '7',
      version: 7,
      nEmbd: 64,
      nLayer: 12,
      nHead: 1,
      headSize: 64,
      dimFfn: 256,
    },
    {
      file: 'tiny-rwkv-7v0-834K-FP16.bin',
      arch: '7',
      version: 7,
      nEmbd: 64,
      nLayer: 12,
      nHead: 1,
      headSize: 64,
      dimFfn: 256,
    },
  ] as const;

  for (const m of models) {
    it(`${m.file}: describeRwkvModel(canonicalizeRwkvCpp(...)) gives RWKV-${m.arch} with plausible sizes`, () => {
      const raw = readRwkvCppFile(`${FIXTURES}${m.file}`);
      const result = canonicalizeRwkvCppDetailed(raw);
      expect(result.arch).toBe(m.arch);
      const d = describeRwkvModel(result.file);
      expect(d.config).toEqual({
        version: m.version,
        nLayer: m.nLayer,
        nEmbd: m.nEmbd,
        nVocab: 256,
        dimFfn: m.dimFfn,
        headSize: m.headSize,
        nHead: m.nHead,
      });
      expect(d.unused).toEqual([]);
      console.info(
        `${m.file}: ${JSON.stringify(d.config)} lora ${JSON.stringify(d.loraDims)}, ${result.changes.length} tensors changed`,
      );

      // Forward again: the converter applied to our canonical values gives back the stored file.
      const again = convertLikeRwkvCpp(result.file.tensors, m.arch);
      expect([...again.keys()].sort()).toEqual([...raw.tensors.keys()].sort());
      let worst = 0;
      for (const [name, t] of raw.tensors) {
        const a = again.get(name)!;
        expect(a.shape, name).toEqual(t.shape);
        worst = Math.max(worst, maxUlps(t.data, a.data));
      }
      console.info(`${m.file}: converter(canonical) vs stored: max ${worst} float32 ulps`);
      expect(worst).toBeLessThanOrEqual(2);
    });
  }

  it('v7 layer 0 has no att.v0/v1/v2 in rwkv.cpp files, and describe accepts that', () => {
    const d = describeRwkvModel(
      canonicalizeRwkvCpp(readRwkvCppFile(`${FIXTURES}tiny-rwkv-7v0-834K-FP32.bin`)),
    );
    expect(d.tensors.has('blocks.0.att.v1')).toBe(false);
    expect(d.tensors.get('blocks.1.att.v1')!.shape).toEqual([64, d.loraDims['v']!]);
    expect(d.tensors.get('blocks.0.att.x_r')!.shape).toEqual([1, 1, 64]);
  });

  it('v4 time_decay becomes official (w = ln(-stored)) and time_mix gets [1, 1, C]', () => {
    const raw = readRwkvCppFile(`${FIXTURES}tiny-rwkv-4v0-660K-FP32.bin`);
    const c = canonicalizeRwkvCpp(raw);
    const s = raw.tensors.get('blocks.0.att.time_decay')!;
    const w = c.tensors.get('blocks.0.att.time_decay')!;
    for (let i = 0; i < s.data.length; i++) expect(w.data[i]).toBeCloseTo(Math.log(-s.data[i]!), 6);
    expect(c.tensors.get('blocks.0.att.time_mix_k')!.shape).toEqual([1, 1, 128]);
    expect(c.tensors.get('blocks.0.ffn.time_mix_r')!.shape).toEqual([1, 1, 128]);
  });
});
