import { CudaContext } from './cuda-driver.js';
import { NVRTC, sharedLibrary } from './libraries.js';

let cached: { ok: boolean; reason: string } | undefined;

/**
 * Whether this process can use a CUDA GPU: libcuda loads, cuInit succeeds, at least one
 * device exists, and NVRTC loads. `reason` says why not (the error's message).
 */
export function probeGpu(): { ok: boolean; reason: string } {
  if (cached) return cached;
  try {
    const n = CudaContext.deviceCount();
    if (n < 1) throw new Error('the CUDA driver reports no device');
    sharedLibrary(NVRTC);
    cached = { ok: true, reason: `${n} CUDA device(s)` };
  } catch (e) {
    cached = { ok: false, reason: (e as Error).message };
  }
  return cached;
}

/** `probeGpu().ok`. */
export function gpuAvailable(): boolean {
  return probeGpu().ok;
}
