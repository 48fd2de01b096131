import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ByteLanguageModel, loadRwkvModel } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../', import.meta.url));

/** Every example runs in CI, and the README's code does what it says. */
describe('examples and README', () => {
  it('examples/generate-text (the demo) runs and generates text in all three forked streams', async () => {
    const { stdout } = await run(
      process.execPath,
      ['examples/generate-text/dist/main.js', '--tokens', '40'],
      { cwd: root },
    );
    expect(stdout).toMatch(/RWKV-7 byte-level LM: 6 layers x 256/);
    expect(stdout).toMatch(/--- 40 bytes in/);
    expect(stdout).toMatch(/240 tokens in 80 batched model calls/);
    for (const key of ['a', 'b', 'c']) expect(stdout).toContain(`[${key}] A process is `);
  });

  it('examples/classify-images classifies its samples in order and reports the broken file alone', async () => {
    const { stdout } = await run(process.execPath, ['examples/classify-images/dist/main.js'], { cwd: root });
    expect(stdout).toMatch(/VRWKV 6 x 128 \(4x4 patches\)/);
    const lines = stdout.split('\n').filter((l) => l.startsWith('#'));
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['#0', '#1', '#2', '#3', '#4', '#5', '#6', '#7', '#8']);
    expect(lines[4]).toMatch(/not-an-image\.png: error MALFORMED_FILE: .*cannot decode image/);
    const m = /(\d+)\/8 samples classified correctly; 1 error\(s\)/.exec(stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(6);
  });

  it("the README's usage snippet", async () => {
    const model = await loadRwkvModel(`${root}models/demo-lm/model.safetensors`);
    const lm = new ByteLanguageModel(model);
    const { bytes } = await lm.generate('The kernel ', { maxTokens: 20, temperature: 0.8, topP: 0.9 });
    expect(bytes.length).toBe(20);
    const state = model.createState(2);
    const res = await model.forward(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      state,
      { mode: 'sequence' },
    );
    const [s0, s1] = res.state.unstack();
    expect(s0!.batch).toBe(1);
    expect(s1!.serialize().length).toBeGreaterThan(0);
    await model.dispose();
  });
});
