import { buildRwkvGraph, randomRwkvWeights, type TensorValue } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { createCudaBackend } from '../backend/cuda-backend.js';
import { probeGpu } from '../driver/probe.js';
import type { CudaExecutable } from './executable.js';
import { shapeScalars } from './executable.js';

const { config, tensors } = randomRwkvWeights(
  { version: 7, nLayer: 2, nEmbd: 128, nVocab: 50, headSize: 64 },
  3,
);
const step = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
const seq = buildRwkvGraph(config, tensors, { mode: 'sequence' });

describe('plan keys', () => {
  it('take host values only of the inputs that decide shapes', () => {
    expect([...shapeScalars(seq)]).toEqual(['logits_from']);
    // One stream's token is an int32 [1] input too: it must not key plans.
    expect([...shapeScalars(step)]).toEqual([]);
  });

  it.skipIf(!probeGpu().ok)('one plan serves every token of a decode step (GPU)', async () => {
    const exe = (await createCudaBackend().compile(step, { device: 'cuda' })) as CudaExecutable;
    const feeds = (token: number): Record<string, TensorValue> => {
      const out: Record<string, TensorValue> = {};
      for (const v of step.inputs) {
        const dims = v.shape.map((d) => (typeof d === 'number' ? d : 1));
        const n = dims.reduce((a, b) => a * b, 1);
        out[v.name] =
          v.dtype === 'int32'
            ? { dtype: 'int32', dims, data: Int32Array.of(token) }
            : { dtype: 'float32', dims, data: new Float32Array(n) };
      }
      return out;
    };
    const first = exe.planFor(feeds(1));
    expect(exe.planFor(feeds(2))).toBe(first);
    expect(exe.planFor(feeds(49))).toBe(first);
    await exe.dispose();
  });
});
