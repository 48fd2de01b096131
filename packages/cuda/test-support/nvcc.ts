import { execFileSync } from 'node:child_process';

/** Whether nvcc runs here (a CUDA toolkit without a GPU is enough to compile). */
export const hasNvcc = (() => {
  try {
    execFileSync('nvcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
