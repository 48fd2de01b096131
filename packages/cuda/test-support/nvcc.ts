import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Whether nvcc runs here (a CUDA toolkit without a GPU is enough to compile). */
export const hasNvcc = (() => {
  try {
    execFileSync('nvcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * PTX of a kernel source compiled by nvcc for sm_90 (in a temporary folder, removed
 * after); with `strict`, any warning fails the compile. Throws nvcc's error otherwise.
 */
export function nvccPtx(source: string, strict = true): string {
  const dir = mkdtempSync(join(tmpdir(), 'rwkv-nvcc-'));
  try {
    const file = join(dir, 'kernel.cu');
    writeFileSync(file, source);
    const flags = strict ? ['-Werror', 'all-warnings'] : [];
    execFileSync('nvcc', ['-arch=sm_90', '-ptx', ...flags, file, '-o', `${file}.ptx`], { stdio: 'pipe' });
    return readFileSync(`${file}.ptx`, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
