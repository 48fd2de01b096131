import { describe, expect, it } from 'vitest';
import { vrwkvFromWeights } from './load-vrwkv.js';
import { randomVrwkvWeights, VRWKV_SIZES } from './random-vrwkv-weights.js';
import { VrwkvModel } from './vrwkv-model.js';

describe('random VRWKV weights', () => {
  it('have the official names and shapes (the loader reads the same config back) and run', async () => {
    const config = {
      ...VRWKV_SIZES.tiny,
      depth: 2,
      embedDims: 64,
      patchSize: 8,
      patchResolution: [4, 4] as const,
    };
    const tensors = randomVrwkvWeights(config);
    const back = vrwkvFromWeights({ format: 'safetensors', source: 'random', tensors, metadata: {} });
    expect(back.config).toEqual(config);
    const model = new VrwkvModel(config, tensors);
    const out = await model.forward(new Float32Array(3 * 32 * 32).fill(0.1), 1, 32, 32);
    expect(out.features.length).toBe(16 * 64);
    expect(out.features.every(Number.isFinite)).toBe(true);
    await model.dispose();
  });
});
