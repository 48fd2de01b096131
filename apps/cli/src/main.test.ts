import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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

describe.skipIf(!haveFixtures)('rwkv-streams info and convert', () => {
  it('info describes an rwkv.cpp file; convert writes safetensors that give the same logits', async () => {
    const source = `${fixtures}tiny-rwkv-5v2-730K-FP16.bin`;
    const info = await run('info', source);
    expect(info.code).toBe(0);
    const facts = JSON.parse(info.out) as {
      format: string;
      version: string;
      layers: number;
      storedAs: Record<string, number>;
    };
    expect(facts).toMatchObject({ format: 'rwkv-cpp', version: '5.2', layers: 12 });
    expect(facts.storedAs['float16']).toBeGreaterThan(0);

    const out = join(mkdtempSync(join(tmpdir(), 'rwkv-cli-')), 'tiny-v5.safetensors');
    const converted = await run('convert', source, '--out', out);
    expect(converted.code).toBe(0);
    // The converted file computes the same function (rwkv.cpp's RWKV-5 ln_x epsilon is
    // recorded in its metadata); half-precision weights were stored as float32.
    const a = JSON.parse((await run('logits', '--model', source, '--prompt', 'Hi')).out) as number[];
    const b = JSON.parse((await run('logits', '--model', out, '--prompt', 'Hi')).out) as number[];
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-5);
    const v7 = join(dirname(out), 'tiny-v7.safetensors');
    expect((await run('convert', `${fixtures}tiny-rwkv-7v0-834K-FP32.bin`, '--out', v7)).code).toBe(0);
    const c = JSON.parse(
      (await run('logits', '--model', `${fixtures}tiny-rwkv-7v0-834K-FP32.bin`, '--prompt', 'Hi')).out,
    ) as number[];
    const d = JSON.parse((await run('logits', '--model', v7, '--prompt', 'Hi')).out) as number[];
    expect(Math.max(...c.map((v, i) => Math.abs(v - d[i]!)))).toBeLessThan(1e-5);
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
