import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadWeights, writeSafetensorsFile } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { loadVrwkv6Weights } from './load-vrwkv6.js';
import { VrwkvModel } from './vrwkv-model.js';

/**
 * Our VRWKV6 against the official Vision-RWKV code (fixtures made on a GPU by
 * training/vision/make_vrwkv6_parity_fixture.py: reduced random configs with the official
 * 64-channel heads, their state_dict in float16, images at the trained 32x32 and at 20x36
 * (position embedding resized), the official backbone's final features and a linear
 * head's logits). Each output is there twice: from the official model as written (its
 * CUDA WKV-6 kernel) and from the same model with the WKV evaluated exactly by its
 * definition in float64 (`exact.*`); the two differ by at most 4.3e-6 (SOURCE.md), the
 * official float32 kernel being that close to its definition. Bounds, against either:
 * max |diff| <= 2e-5 for features (values up to 5.8) and <= 1e-5 for logits. Measured on
 * the CPU 3.6e-6 to 7.5e-6 (features) and 2.4e-7 to 9.5e-7 (logits); on an H100 through
 * the CUDA backend 3.1e-6 to 7.0e-6 and 1.8e-7 to 4.8e-7.
 */
const dir = fileURLToPath(new URL('../../fixtures/official-v6/', import.meta.url));

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.each(['plain', 'switches'])('VRWKV6 "%s" config matches the official code', (name) => {
  it.skipIf(!existsSync(`${dir}vrwkv6-${name}.pth`))(
    'features and logits at the trained size and another',
    async () => {
      const { config, tensors } = loadVrwkv6Weights(`${dir}vrwkv6-${name}.pth`, {
        postNorm: name === 'switches',
      });
      expect(config).toMatchObject({ depth: 2, patchSize: 4, numClasses: 10, patchResolution: [8, 8] });
      expect(config.embedDims / config.numHeads).toBe(64);
      expect(config.numHeads).toBe(name === 'plain' ? 2 : 1);
      expect(config.keyNorm).toBe(name === 'switches');
      expect(config.layerScale).toBe(name === 'switches');
      expect(config.withClsToken).toBe(name === 'switches');
      const expected = loadWeights(`${dir}vrwkv6-${name}-expected.pth`).tensors;
      const model = new VrwkvModel(config, tensors);
      for (const size of ['trained', 'other']) {
        const px = expected.get(`${size}.pixels`)!;
        const [B, , H, W] = px.shape as [number, number, number, number];
        const out = await model.forward(px.data, B, H, W);
        const exact = {
          features: maxDiff(out.features, expected.get(`${size}.exact.features`)!.data),
          logits: maxDiff(out.logits!, expected.get(`${size}.exact.logits`)!.data),
        };
        const kernelFeatures = expected.get(`${size}.features`);
        const kernel = kernelFeatures
          ? {
              features: maxDiff(out.features, kernelFeatures.data),
              logits: maxDiff(out.logits!, expected.get(`${size}.logits`)!.data),
            }
          : undefined;
        console.log(
          `VRWKV6 ${name} ${W}x${H} on ${model.device}: max |diff| vs exact-WKV official: features ${exact.features.toExponential(2)}, logits ${exact.logits.toExponential(2)}` +
            (kernel
              ? `; vs official kernel: features ${kernel.features.toExponential(2)}, logits ${kernel.logits.toExponential(2)}`
              : ''),
        );
        for (const d of kernel ? [exact, kernel] : [exact]) {
          expect(d.features).toBeLessThanOrEqual(2e-5);
          expect(d.logits).toBeLessThanOrEqual(1e-5);
        }
      }
      await model.dispose();
    },
  );
});

describe('VRWKV6 weights as safetensors', () => {
  it.skipIf(!existsSync(`${dir}vrwkv6-plain.pth`))(
    'load under the same names and give the same features',
    async () => {
      const fromPth = loadVrwkv6Weights(`${dir}vrwkv6-plain.pth`);
      const tmp = mkdtempSync(join(tmpdir(), 'vrwkv6-'));
      try {
        const path = join(tmp, 'vrwkv6-plain.safetensors');
        // The official names with the mmcls `backbone.` prefix, float16 as the .pth stores them.
        const named = new Map(
          [...fromPth.tensors].map(([n, t]) => [n.startsWith('head.') ? n : `backbone.${n}`, t] as const),
        );
        writeSafetensorsFile(path, named, { dtype: 'float16' });
        const fromSt = loadVrwkv6Weights(path);
        expect(fromSt.config).toEqual(fromPth.config);
        const px = loadWeights(`${dir}vrwkv6-plain-expected.pth`).tensors.get('trained.pixels')!;
        const [B, , H, W] = px.shape as [number, number, number, number];
        const a = new VrwkvModel(fromPth.config, fromPth.tensors);
        const b = new VrwkvModel(fromSt.config, fromSt.tensors);
        expect(
          maxDiff((await a.forward(px.data, B, H, W)).features, (await b.forward(px.data, B, H, W)).features),
        ).toBe(0);
        await a.dispose();
        await b.dispose();
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  );
});
