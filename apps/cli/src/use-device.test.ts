import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ExitCode, main } from './main.js';

const demoLm = fileURLToPath(new URL('../../../models/demo-lm/model.safetensors', import.meta.url));
// With an NVIDIA driver the CUDA backend would run; this pins the failure on machines without.
const noGpu = !existsSync('/dev/nvidiactl');

describe.skipIf(!noGpu)('--device cuda without an NVIDIA driver', () => {
  it('loads the CUDA backend and fails naming the driver library and where it looked', async () => {
    let err = '';
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => {
      err += s;
      return true;
    }) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(
        ['node', 'rwkv-streams', 'logits', '--model', demoLm, '--prompt', 'hi', '--device', 'cuda'],
        () => {},
      );
    } finally {
      process.stderr.write = write;
    }
    expect(code).toBe(ExitCode.failure);
    expect(err).toMatch(/libcuda\.so\.1/);
    expect(err).toMatch(/Looked in:/);
    expect(err).not.toMatch(/no backend registered/);
  });
});
