import { fileURLToPath } from 'node:url';
import {
  type HostTensor,
  hostTensor,
  loadWeights,
  MissingTensorError,
  ShapeMismatchError,
  type WeightFile,
} from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { VrwkvModel } from '../model/vrwkv-model.js';
import { vrwkvSegFromWeights } from './load-segmenter.js';
import { argmaxMask } from './metrics.js';
import { VrwkvSegmenter } from './vrwkv-segmenter.js';

/**
 * Test support: the official random VRWKV fixture (vrwkv-plain: 3 channels, 4-pixel
 * patches) with a seeded random decode head of `hidden` units and `classes` classes added,
 * as a weight file.
 */
function fixtureSegmenterWeights(hidden = 24, classes = 5, drop?: string): WeightFile {
  const path = fileURLToPath(new URL('../../fixtures/official/vrwkv-plain.pth', import.meta.url));
  const file = loadWeights(path);
  const tensors = new Map<string, HostTensor>(file.tensors);
  const conv = [...tensors.entries()].find(([n]) => n.endsWith('patch_embed.projection.weight'))![1];
  const [C, Cin, P] = conv.shape as [number, number, number];
  let s = 12345;
  const rand = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return (s / 2147483648 - 0.5) * 2 * scale;
    });
  const inn = C + Cin * P * P;
  const out = P * P * classes;
  tensors.set('decode_head.fc1.weight', hostTensor([hidden, inn], rand(hidden * inn, 0.3)));
  tensors.set('decode_head.fc1.bias', hostTensor([hidden], rand(hidden, 0.1)));
  tensors.set('decode_head.fc2.weight', hostTensor([out, hidden], rand(out * hidden, 0.3)));
  tensors.set('decode_head.fc2.bias', hostTensor([out], rand(out, 0.1)));
  if (drop) tensors.delete(drop);
  return { ...file, source: `${path} + random decode_head`, tensors };
}

describe('VrwkvSegmenter', () => {
  it("computes the decode head on the backbone's features, unfolded to full resolution", async () => {
    const { config, tensors } = vrwkvSegFromWeights(fixtureSegmenterWeights(24, 5));
    expect(config).toMatchObject({ headHidden: 24, numClasses: 5 });
    const seg = new VrwkvSegmenter(config, tensors);
    const backbone = new VrwkvModel(config.backbone, tensors);
    const { embedDims: C, inChannels: Cin, patchSize: P } = config.backbone;
    const [B, H, W, K] = [2, 16, 24, 5];
    const pixels = Float32Array.from({ length: B * Cin * H * W }, (_, i) => Math.sin(i * 0.37) * 1.5);
    const { features } = await backbone.forward(pixels, B, H, W);
    const { logits, masks } = await seg.forward(pixels, B, H, W);
    expect(logits.length).toBe(B * H * W * K);
    // the head by hand, per pixel
    const get = (n: string) => tensors.get(n)!.data;
    const [w1, b1, w2, b2] = ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'].map((n) =>
      get(`decode_head.${n}`),
    );
    const hidden = 24;
    const rows = H / P;
    const cols = W / P;
    const inn = C + Cin * P * P;
    let worst = 0;
    for (let b = 0; b < B; b++)
      for (let gy = 0; gy < rows; gy++)
        for (let gx = 0; gx < cols; gx++) {
          const t = gy * cols + gx;
          const x = new Float32Array(inn);
          x.set(features.subarray((b * rows * cols + t) * C, (b * rows * cols + t + 1) * C));
          for (let c = 0; c < Cin; c++)
            for (let py = 0; py < P; py++)
              for (let px = 0; px < P; px++)
                x[C + (c * P + py) * P + px] = pixels[((b * Cin + c) * H + gy * P + py) * W + gx * P + px]!;
          const h = new Float32Array(hidden);
          for (let j = 0; j < hidden; j++) {
            let s = b1![j]!;
            for (let i = 0; i < inn; i++) s += w1![j * inn + i]! * x[i]!;
            h[j] = Math.max(0, s);
          }
          for (let py = 0; py < P; py++)
            for (let px = 0; px < P; px++)
              for (let k = 0; k < K; k++) {
                const o = (py * P + px) * K + k;
                let s = b2![o]!;
                for (let j = 0; j < hidden; j++) s += w2![o * hidden + j]! * h[j]!;
                const got = logits[((b * H + gy * P + py) * W + gx * P + px) * K + k]!;
                worst = Math.max(worst, Math.abs(got - s));
              }
        }
    expect(worst).toBeLessThan(1e-4);
    expect(masks).toEqual(argmaxMask(logits, K));
    await seg.dispose();
    await backbone.dispose();
  });

  it('refuses a missing or misshapen decode head, naming the tensor', () => {
    expect(() => vrwkvSegFromWeights(fixtureSegmenterWeights(24, 5, 'decode_head.fc1.bias'))).toThrow(
      MissingTensorError,
    );
    const file = fixtureSegmenterWeights(24, 5);
    const tensors = new Map(file.tensors);
    tensors.set('decode_head.fc2.bias', hostTensor([7], new Float32Array(7)));
    expect(() => vrwkvSegFromWeights({ ...file, tensors })).toThrow(ShapeMismatchError);
    expect(() => vrwkvSegFromWeights({ ...file, tensors })).toThrow(/decode_head\.fc2\.bias/);
  });
});
