import { BackendUnavailableError, BadInputError, GraphBuilder } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { probeGpu } from '../driver/probe.js';
import { createCudaBackend } from './cuda-backend.js';

function tiny() {
  const b = new GraphBuilder('tiny');
  b.output('y', b.exp(b.input('x', 'float32', [2])));
  return b.build();
}

describe('the CUDA backend, with or without a GPU', () => {
  const backend = createCudaBackend();

  it('serves the device cuda', () => {
    expect(backend.name).toBe('cuda');
    expect(backend.devices).toEqual(['cuda']);
  });

  it('refuses quantized weights with a clear error, before touching the GPU', async () => {
    await expect(
      backend.compile(tiny(), { device: 'cuda', quantization: { bits: 4, blockSize: 32 } }),
    ).rejects.toThrow(BadInputError);
    await expect(
      backend.compile(tiny(), { device: 'cuda', quantization: { bits: 8, blockSize: 32 } }),
    ).rejects.toThrow(/8-bit quantization runs on the CPU backend/);
  });

  it.skipIf(probeGpu().ok)('without a GPU, compiling says what is missing and where it looked', async () => {
    const err = await backend.compile(tiny(), { device: 'cuda' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/libcuda|CUDA driver/);
    expect((err as Error).message).toMatch(/Looked in: /);
  });
});
