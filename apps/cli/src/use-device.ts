import type { Device } from '@rwkv-streams/core';

/**
 * Loads the backend a `--device` flag names when it lives in an optional package: the CUDA
 * backend (`@rwkv-streams/cuda`) registers itself with the core when imported. CPU and WebGPU
 * are the core's own. Without the package (an install that left it out), the core's
 * "backend unavailable" error stands; a present package whose driver or libraries are
 * missing fails later, naming what it looked for.
 */
export async function useDevice(device: Device): Promise<void> {
  if (device !== 'cuda') return;
  try {
    await import('@rwkv-streams/cuda');
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND') throw e;
  }
}
