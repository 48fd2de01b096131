import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ExitCode, main } from './main.js';

const fixtures = fileURLToPath(new URL('../../../../shared/fixtures/rwkv-cpp/', import.meta.url));
const haveFixtures = existsSync(fixtures);

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(['node', 'rwkv-streams', ...args], (s) => {
    out += s;
  });
  return { code, out };
}

describe.skipIf(!haveFixtures)('rwkv-streams CLI on rwkv.cpp fixtures', () => {
  it("logits prints rwkv.cpp's logits as one JSON array, in both modes", async () => {
    const buf = readFileSync(`${fixtures}expected-logits-7v0-834K.bin`);
    const expected = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 1024));
    for (const mode of ['recurrent', 'sequence']) {
      const { code, out } = await run(
        'logits',
        '--model',
        `${fixtures}tiny-rwkv-7v0-834K-FP32.bin`,
        '--prompt',
        '"in',
        '--mode',
        mode,
      );
      expect(code).toBe(ExitCode.ok);
      const logits = JSON.parse(out) as number[];
      expect(logits).toHaveLength(256);
      expect(Math.max(...logits.map((v, i) => Math.abs(v - expected[i]!)))).toBeLessThan(1e-3);
    }
  });

  it('generate is reproducible with a seed and greedy with temperature 0', async () => {
    const model = `${fixtures}tiny-rwkv-5v2-730K-FP32.bin`;
    const a = await run('generate', '--model', model, '--prompt', 'The ', '--tokens', '20', '--seed', '5');
    const b = await run('generate', '--model', model, '--prompt', 'The ', '--tokens', '20', '--seed', '5');
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
    const g = await run(
      'generate',
      '--model',
      model,
      '--prompt',
      'The ',
      '--tokens',
      '20',
      '--temperature',
      '0',
    );
    expect(g.out.length).toBeGreaterThan(1);
  });
});

describe('rwkv-streams CLI errors', () => {
  it('exit code 2 for usage errors, 1 with a typed message for a bad model file', async () => {
    expect((await run('logits', '--prompt', 'x')).code).toBe(ExitCode.usage);
    expect((await run('generate', '--model', 'x', '--prompt', 'x', '--tokens', '-3')).code).toBe(
      ExitCode.usage,
    );
    const missing = await run('logits', '--model', '/nonexistent/model.bin', '--prompt', 'x');
    expect(missing.code).toBe(ExitCode.failure);
  });
});
