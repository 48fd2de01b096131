import { fileURLToPath } from 'node:url';
import {
  BadInputError,
  type HostTensor,
  loadWeights,
  MissingTensorError,
  ShapeMismatchError,
  type WeightFile,
} from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { vrwkvFromWeights } from './load-vrwkv.js';
import { VrwkvModel } from './vrwkv-model.js';

const file = fileURLToPath(new URL('../../fixtures/official/vrwkv-plain.pth', import.meta.url));

function edited(edit: (m: Map<string, HostTensor>) => void): WeightFile {
  const w = loadWeights(file);
  const tensors = new Map(w.tensors);
  edit(tensors);
  return { ...w, tensors };
}

describe('loading VRWKV weights', () => {
  it('reads the config off an official mmcls checkpoint (state_dict, backbone. and head.fc. names)', () => {
    const { config, tensors } = vrwkvFromWeights(loadWeights(file));
    expect(config).toEqual({
      embedDims: 32,
      depth: 2,
      patchSize: 4,
      inChannels: 3,
      patchResolution: [8, 8],
      hiddenRate: 4,
      keyNorm: false,
      layerScale: false,
      postNorm: false,
      finalNorm: true,
      channelGamma: 0.25,
      shiftPixel: 1,
      numClasses: 10,
    });
    expect(tensors.has('layers.1.att.spatial_decay')).toBe(true);
  });

  it('names a missing or misshapen tensor and the file', () => {
    expect(() =>
      vrwkvFromWeights(edited((m) => m.delete('state_dict.backbone.layers.1.ffn.value.weight'))),
    ).toThrow(MissingTensorError);
    expect(() =>
      vrwkvFromWeights(edited((m) => m.delete('state_dict.backbone.layers.1.ffn.value.weight'))),
    ).toThrow(/layers\.1\.ffn\.value\.weight/);
    const bad = edited((m) => {
      const t = m.get('state_dict.backbone.layers.0.att.key.weight')!;
      m.set('state_dict.backbone.layers.0.att.key.weight', { ...t, shape: [16, 64] });
    });
    expect(() => vrwkvFromWeights(bad)).toThrow(ShapeMismatchError);
    expect(() => vrwkvFromWeights(bad)).toThrow(
      /layers\.0\.att\.key\.weight' is \[16,64\], expected \[32,32\]/,
    );
    expect(() => vrwkvFromWeights(loadWeights(file), { patchResolution: [4, 8] })).toThrow(
      /does not match pos_embed/,
    );
  });

  it('refuses images that are not whole patches, and wrong pixel counts', async () => {
    const { config, tensors } = vrwkvFromWeights(loadWeights(file));
    const model = new VrwkvModel(config, tensors);
    await expect(model.forward(new Float32Array(3 * 30 * 32), 1, 30, 32)).rejects.toThrow(
      /multiple of the 4-pixel patch/,
    );
    await expect(model.forward(new Float32Array(10), 1, 32, 32)).rejects.toThrow(BadInputError);
    await model.dispose();
  });
});
