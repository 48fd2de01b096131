import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { haveCCompiler } from './compiler/c-compiler.js';

const dist = (pkg: string) => new URL(`../../${pkg}/dist/index.js`, import.meta.url);
const built = existsSync(fileURLToPath(dist('cpu-native'))) && existsSync(fileURLToPath(dist('core')));

// Two models' libraries loaded, one disposed, then the process ends: koffi closes its
// libraries at exit, and before libraries were built unloadable-never (-z nodelete) the last
// one could take libgomp with it under its spinning worker threads (SIGSEGV in 3 exits of 4).
const script = `
const core = await import(${JSON.stringify(dist('core').href)});
await import(${JSON.stringify(dist('cpu-native').href)});
const models = [1, 2].map((seed) => {
  const { config, tensors } = core.randomRwkvWeights({ version: 7, nLayer: 1, nEmbd: 64, nVocab: 32 }, seed);
  return new core.RwkvModel(config, tensors, { threads: 2 });
});
for (const m of models) await m.forward([[1, 2, 3]], m.createState(1), { mode: 'sequence' });
await models[0].dispose();
console.log('done');
`;

describe.skipIf(!haveCCompiler() || !built)('cpu-native at process exit', () => {
  it('a process with native models ends cleanly (four in a row)', () => {
    for (let i = 0; i < 4; i++) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect({ status: r.status, signal: r.signal, out: r.stdout.trim() }).toEqual({
        status: 0,
        signal: null,
        out: 'done',
      });
    }
  }, 120_000);
});
