import { describe, expect, it } from 'vitest';
import { MissingTensorError, type RwkvError, ShapeMismatchError, UnknownVersionError } from '../errors.js';
import type { RwkvVersion } from '../rwkv/config.js';
import { type HostTensor, hostTensor, numel } from '../tensor/host-tensor.js';
import { describeRwkvModel, expectedTensors } from './describe.js';
import type { WeightFile } from './weight-file.js';

function catchError(f: () => unknown): RwkvError {
  try {
    f();
  } catch (e) {
    return e as RwkvError;
  }
  throw new Error('expected an error');
}

const LORA: Record<RwkvVersion, Record<string, number>> = {
  4: {},
  5: {},
  6: { mix: 32, decay: 64 },
  7: { w: 64, a: 64, v: 32, g: 128 },
};

/** Official-named zero weights: C = 128, 3 layers, FFN 448, heads of 32. */
function official(version: RwkvVersion): Map<string, HostTensor> {
  const headSize = version === 4 ? 1 : 32;
  const specs = expectedTensors({
    version,
    nLayer: 3,
    nEmbd: 128,
    nVocab: 300,
    dimFfn: 448,
    headSize,
    nHead: 128 / headSize,
    loraDims: LORA[version],
  });
  return new Map(specs.map((s) => [s.name, hostTensor(s.shape, new Float32Array(numel(s.shape)))]));
}

const file = (tensors: Map<string, HostTensor>, metadata: Record<string, number> = {}): WeightFile => ({
  format: 'safetensors',
  source: 'model.safetensors',
  tensors,
  metadata,
});

describe('describeRwkvModel', () => {
  for (const version of [4, 5, 6, 7] as const) {
    it(`detects RWKV-${version === 5 ? '5.2' : version} and derives its sizes`, () => {
      const d = describeRwkvModel(file(official(version)));
      expect(d.config).toEqual({
        version,
        nLayer: 3,
        nEmbd: 128,
        nVocab: 300,
        dimFfn: 448,
        headSize: version === 4 ? 1 : 32,
        nHead: version === 4 ? 128 : 4,
      });
      expect(d.loraDims).toEqual(LORA[version]);
      expect(d.unused).toEqual([]);
      expect(d.strippedPrefix).toBe('');
    });
  }

  it('keeps v7 layer-0 v0/v1/v2 when present (official checkpoints) and accepts them absent (rwkv.cpp)', () => {
    const w = official(7);
    expect(describeRwkvModel(file(w)).tensors.has('blocks.0.att.v1')).toBe(true);
    for (const n of ['v0', 'v1', 'v2']) w.delete(`blocks.0.att.${n}`);
    expect(describeRwkvModel(file(w)).tensors.has('blocks.0.att.v1')).toBe(false);
    w.delete('blocks.1.att.v2');
    const e = catchError(() => describeRwkvModel(file(w)));
    expect(e).toBeInstanceOf(MissingTensorError);
    expect(e.field).toBe('blocks.1.att.v2');
  });

  it('strips a common prefix such as model. and lists unused tensors', () => {
    const prefixed = new Map([...official(5)].map(([k, v]) => [`model.${k}`, v]));
    prefixed.set('model.blocks.0.att.extra', hostTensor([1], new Float32Array(1)));
    const d = describeRwkvModel(file(prefixed));
    expect(d.strippedPrefix).toBe('model.');
    expect(d.config.version).toBe(5);
    expect(d.unused).toEqual(['model.blocks.0.att.extra']);
    expect(d.tensors.has('emb.weight')).toBe(true);
  });

  it('reports a missing tensor with MissingTensorError naming file and tensor', () => {
    const w = official(6);
    w.delete('blocks.2.ffn.key.weight');
    const e = catchError(() => describeRwkvModel(file(w)));
    expect(e).toBeInstanceOf(MissingTensorError);
    expect(e.code).toBe('MISSING_TENSOR');
    expect(e.message).toContain('model.safetensors');
    expect(e.message).toContain("field 'blocks.2.ffn.key.weight'");
  });

  it('reports a block after a missing one', () => {
    const w = official(4);
    for (const k of [...w.keys()]) if (k.startsWith('blocks.1.')) w.delete(k);
    const e = catchError(() => describeRwkvModel(file(w)));
    expect(e).toBeInstanceOf(MissingTensorError);
    expect(e.field).toBe('blocks.1.ln1.weight');
  });

  it('reports a wrong shape with ShapeMismatchError naming the tensor and both shapes', () => {
    const w = official(4);
    w.set('blocks.1.att.time_mix_k', hostTensor([128], new Float32Array(128)));
    const e = catchError(() => describeRwkvModel(file(w)));
    expect(e).toBeInstanceOf(ShapeMismatchError);
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toContain('model.safetensors');
    expect(e.message).toContain("field 'blocks.1.att.time_mix_k'");
    expect(e.message).toContain('[1, 1, 128]');
    expect(e.message).toContain('[128]');
  });

  it('reports heads that do not multiply to n_embd', () => {
    const w = official(7);
    w.set('blocks.0.att.r_k', hostTensor([3, 32], new Float32Array(96)));
    const e = catchError(() => describeRwkvModel(file(w)));
    expect(e).toBeInstanceOf(ShapeMismatchError);
    expect(e.field).toBe('blocks.0.att.r_k');
  });

  it('checks the sizes against an rwkv.cpp header', () => {
    const e = catchError(() => describeRwkvModel(file(official(5), { 'rwkv_cpp.n_layer': 4 })));
    expect(e).toBeInstanceOf(ShapeMismatchError);
    expect(e.field).toBe('rwkv_cpp.n_layer');
  });

  it('refuses names of no known version with UnknownVersionError', () => {
    const w = new Map([['transformer.h.0.attn.weight', hostTensor([2], new Float32Array(2))]]);
    const e = catchError(() => describeRwkvModel(file(w)));
    expect(e).toBeInstanceOf(UnknownVersionError);
    expect(e.code).toBe('UNKNOWN_VERSION');
    expect(e.message).toContain('model.safetensors');
    expect(e.message).toContain('v4');
  });

  it('refuses RWKV-5.0/5.1 (ln_x without gate, per-head time_first) and explains why', () => {
    const w = official(5);
    w.delete('blocks.0.att.gate.weight');
    w.delete('blocks.0.att.time_faaaa');
    w.set('blocks.0.att.time_first', hostTensor([4], new Float32Array(4)));
    const e = catchError(() => describeRwkvModel(file(w)));
    expect(e).toBeInstanceOf(UnknownVersionError);
    expect(e.message).toContain('5.2');

    const preview = official(4);
    preview.set('blocks.0.att.time_first', hostTensor([4], new Float32Array(4)));
    const p = catchError(() => describeRwkvModel(file(preview)));
    expect(p).toBeInstanceOf(UnknownVersionError);
    expect(p.field).toBe('blocks.0.att.time_first');
  });
});
