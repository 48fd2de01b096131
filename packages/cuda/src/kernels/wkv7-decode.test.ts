import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasNvcc } from '../../test-support/nvcc.js';
import { withGridDependency } from './grid-dependency.js';
import { WKV7_DECODE_ROWS, wkv7DecodeKernel } from './wkv7-decode.js';

describe('the one-step WKV-7 kernel', () => {
  it('a warp a value row: blocks of 32 x WKV7_DECODE_ROWS threads, the head size compiled in', () => {
    const k = wkv7DecodeKernel(64);
    expect(k.threads).toBe(32 * WKV7_DECODE_ROWS);
    expect(k.name).toBe('rwkv_wkv7_decode_n64');
    expect(k.source).toContain('float s[2];'); // 64 columns over 32 lanes
    expect(wkv7DecodeKernel(128).source).toContain('float s[4];');
  });

  it.skipIf(!hasNvcc)(
    'compiles for sm_90 without warnings, plainly and for dependent launch (nvcc -ptx)',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'rwkv-wkv7-decode-'));
      try {
        for (const [i, source] of [
          wkv7DecodeKernel(64).source,
          withGridDependency(wkv7DecodeKernel(32).source),
        ].entries()) {
          const file = join(dir, `k${i}.cu`);
          writeFileSync(file, source);
          execFileSync(
            'nvcc',
            ['-arch=sm_90', '-ptx', '-Werror', 'all-warnings', file, '-o', `${file}.ptx`],
            {
              stdio: 'pipe',
            },
          );
          expect(readFileSync(`${file}.ptx`, 'utf8')).toContain('shfl.sync.bfly');
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
