import { fileURLToPath } from 'node:url';
import {
  type HostTensor,
  hostTensor,
  MissingTensorError,
  SeededRandom,
  ShapeMismatchError,
  type WeightFile,
} from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { isVrwkv6Weights, loadVisionRwkvWeights, vrwkv6FromWeights } from './load-vrwkv6.js';
import { VrwkvModel } from './vrwkv-model.js';

/** Random VRWKV6 weights under the official names (C = 16, 2 heads of 8, class token, key norm). */
function randomVrwkv6(): Map<string, HostTensor> {
  const rng = new SeededRandom(6);
  const m = new Map<string, HostTensor>();
  const C = 16;
  const F = 32;
  const put = (name: string, shape: number[], scale = 0.3, base = 0) =>
    m.set(
      `backbone.${name}`,
      hostTensor(
        shape,
        Float32Array.from(
          { length: shape.reduce((a, b) => a * b, 1) },
          () => base + scale * (2 * rng.uniform() - 1),
        ),
      ),
    );
  put('patch_embed.projection.weight', [C, 3, 2, 2]);
  put('patch_embed.projection.bias', [C]);
  put('pos_embed', [1, 16, C]);
  put('cls_token', [1, 1, C]);
  for (let l = 0; l < 2; l++) {
    const p = `layers.${l}`;
    for (const n of l === 0 ? ['ln0', 'ln1', 'ln2'] : ['ln1', 'ln2']) {
      put(`${p}.${n}.weight`, [C], 0.2, 1);
      put(`${p}.${n}.bias`, [C]);
    }
    for (const n of ['x', 'w', 'k', 'v', 'r', 'g']) put(`${p}.att.time_maa_${n}`, [1, 1, C], 0.5, 0.5);
    put(`${p}.att.time_maa_w1`, [C, 5 * 4]);
    put(`${p}.att.time_maa_w2`, [5, 4, C]);
    put(`${p}.att.time_decay`, [1, 1, C], 2, -3);
    put(`${p}.att.time_decay_w1`, [C, 6]);
    put(`${p}.att.time_decay_w2`, [6, C]);
    put(`${p}.att.time_faaaa`, [2, 8]);
    for (const n of ['key', 'value', 'receptance', 'gate', 'output']) put(`${p}.att.${n}.weight`, [C, C]);
    for (const n of ['ln_x', 'key_norm']) {
      put(`${p}.att.${n}.weight`, [C], 0.2, 1);
      put(`${p}.att.${n}.bias`, [C]);
    }
    put(`${p}.ffn.spatial_mix_k`, [1, 1, C], 0.5, 0.5);
    put(`${p}.ffn.spatial_mix_r`, [1, 1, C], 0.5, 0.5);
    put(`${p}.ffn.key.weight`, [F, C]);
    put(`${p}.ffn.value.weight`, [C, F]);
    put(`${p}.ffn.receptance.weight`, [C, C]);
    put(`${p}.ffn.key_norm.weight`, [F], 0.2, 1);
    put(`${p}.ffn.key_norm.bias`, [F]);
  }
  put('ln1.weight', [C], 0.2, 1);
  put('ln1.bias', [C]);
  m.set('head.fc.weight', hostTensor([5, C], new Float32Array(5 * C).fill(0.1)));
  m.set('head.fc.bias', hostTensor([5], new Float32Array(5)));
  return m;
}

const file = (tensors: Map<string, HostTensor>): WeightFile =>
  ({ source: 'random-vrwkv6', format: 'safetensors', tensors, metadata: {} }) as unknown as WeightFile;

describe('loading VRWKV6 weights', () => {
  it('reads the config off the official names and runs at two sizes, one image as in a batch', async () => {
    const { config, tensors } = vrwkv6FromWeights(file(randomVrwkv6()));
    expect(config).toEqual({
      version: 6,
      embedDims: 16,
      numHeads: 2,
      depth: 2,
      patchSize: 2,
      inChannels: 3,
      patchResolution: [4, 4],
      hiddenRate: 2,
      keyNorm: true,
      layerScale: false,
      postNorm: false,
      finalNorm: true,
      withClsToken: true,
      shiftPixel: 1,
      mixLoraDim: 4,
      decayLoraDim: 6,
      numClasses: 5,
    });
    const model = new VrwkvModel(config, tensors);
    const rng = new SeededRandom(1);
    for (const [H, W] of [
      [8, 8],
      [6, 10],
    ] as const) {
      const px = Float32Array.from({ length: 2 * 3 * H * W }, () => rng.uniform() - 0.5);
      const both = await model.forward(px, 2, H, W);
      const tokens = (H / 2) * (W / 2);
      expect(both.grid).toEqual([H / 2, W / 2]);
      expect(both.features.length).toBe(2 * tokens * 16);
      expect(both.logits!.length).toBe(10);
      expect(both.features.every(Number.isFinite)).toBe(true);
      const second = await model.forward(px.subarray(3 * H * W), 1, H, W);
      let d = 0;
      for (let i = 0; i < tokens * 16; i++)
        d = Math.max(d, Math.abs(second.features[i]! - both.features[tokens * 16 + i]!));
      expect(d).toBeLessThanOrEqual(1e-5);
    }
    await model.dispose();
  });

  it('names a missing or misshapen tensor', () => {
    const missing = randomVrwkv6();
    missing.delete('backbone.layers.1.att.time_decay_w2');
    expect(() => vrwkv6FromWeights(file(missing))).toThrow(MissingTensorError);
    expect(() => vrwkv6FromWeights(file(missing))).toThrow(/layers\.1\.att\.time_decay_w2/);
    const bad = randomVrwkv6();
    bad.set('backbone.layers.1.att.gate.weight', hostTensor([16, 8], new Float32Array(128)));
    expect(() => vrwkv6FromWeights(file(bad))).toThrow(ShapeMismatchError);
    const odd = randomVrwkv6();
    odd.set('backbone.layers.0.att.time_faaaa', hostTensor([8, 2], new Float32Array(16)));
    expect(() => vrwkv6FromWeights(file(odd))).toThrow(/multiple of 4/);
  });

  it('tells the two families apart', () => {
    expect(isVrwkv6Weights(file(randomVrwkv6()))).toBe(true);
    const v4 = fileURLToPath(new URL('../../fixtures/official/vrwkv-plain.pth', import.meta.url));
    const w = loadVisionRwkvWeights(v4);
    expect('version' in w.config).toBe(false);
    expect(w.config.embedDims).toBe(32);
  });
});
