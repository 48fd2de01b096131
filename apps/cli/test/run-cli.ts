import { vi } from 'vitest';
import { main } from '../src/main.js';

/**
 * Runs the whole CLI in this process, as the tests of the commands do: its exit code,
 * what it wrote to stdout and what it wrote to stderr. (Test support: outside src/, so the
 * build leaves it out.)
 */
export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  try {
    const code = await main(['node', 'rwkv-streams', ...args], (s) => {
      out += s;
    });
    return { code, out, err };
  } finally {
    vi.restoreAllMocks();
  }
}
