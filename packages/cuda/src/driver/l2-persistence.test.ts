import { describe, expect, it } from 'vitest';
import { sharedRuntime } from '../runtime.js';
import { CU_DEVICE_ATTRIBUTE } from './cuda-driver.js';
import { probeGpu } from './probe.js';

describe('L2 persistence', () => {
  it.skipIf(!probeGpu().ok)(
    'sets L2 aside, windows a buffer on a stream and clears it; kernels still compute (GPU)',
    () => {
      const rt = sharedRuntime();
      const max = rt.ctx.attribute(CU_DEVICE_ATTRIBUTE.MAX_PERSISTING_L2_CACHE_SIZE);
      expect(max).toBeGreaterThan(0);
      const n = 1 << 20;
      const buf = rt.ctx.malloc(n * 4);
      try {
        rt.ctx.setPersistingL2(Math.min(max, 4 << 20));
        rt.stream.setAccessPolicyWindow(buf, n * 4, 1);
        const fn = rt.kernel(
          'extern "C" __global__ void twice(float* x, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] = 2.f * x[i] + 1.f; }',
          'twice',
        );
        rt.ctx.memsetD32Async(buf, 0x3f800000, n, rt.stream); // 1.0
        for (let k = 0; k < 2; k++)
          rt.ctx.launch(fn, { grid: [n / 256], block: [256], stream: rt.stream }, [{ ptr: buf }, { i32: n }]);
        const out = new Float32Array(n);
        rt.ctx.copyToHost(out, buf, rt.stream);
        rt.stream.synchronize();
        expect(out[0]).toBe(7);
        expect(out[n - 1]).toBe(7);
      } finally {
        rt.stream.setAccessPolicyWindow(0n, 0);
        rt.ctx.setPersistingL2(0);
        rt.ctx.free(buf);
      }
    },
  );
});
