import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/run-cli.js';
import { ExitCode } from '../main.js';

/**
 * `rwkv-streams run PIPELINE`: the example file on the shipped classifier (records on
 * stdout as JSON lines, the summary on stderr or as a last JSON line, metrics with
 * --metrics); a bad file is every problem with field and line:col, exit 2; a stage that
 * fails (onError: fail) exits 1.
 */
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const images = join(root, 'examples/pipelines/images.yaml');
const dir = mkdtempSync(join(tmpdir(), 'rwkv-cli-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('rwkv-streams run', () => {
  it('runs examples/pipelines/images.yaml: a record per image on stdout, the summary on stderr', async () => {
    const { code, out, err } = await runCli('run', images, '--metrics');
    expect(code).toBe(ExitCode.ok);
    const records = jsonLines(out);
    expect(records).toHaveLength(readdirSync(join(root, 'examples/pipelines/samples/fashion')).length + 1);
    expect(records.every((r) => r.stage === 'classify' && r.task === 'classify')).toBe(true);
    expect(records.filter((r) => r.error)).toHaveLength(1);
    expect(err).toMatch(/^run: fashion-images: 7 items, 7 records \(1 with errors\)/m);
    expect(err).toMatch(/^ {2}classify \(classify\): 7 in, 7 records, 1 errors; latency p50/m);
    expect(err).toContain('rwkv_streams_stage_items_in_total{stage="classify"} 7');
  });

  it('--json: the summary as a last JSON line on stdout', async () => {
    const { code, out } = await runCli('run', images, '--json');
    expect(code).toBe(ExitCode.ok);
    const lines = jsonLines(out);
    const { summary } = lines.at(-1) as {
      summary: { records: number; errors: number; stages: { name: string }[] };
    };
    expect(summary).toMatchObject({ records: 7, errors: 1 });
    expect(summary.stages.map((s) => s.name)).toEqual(['classify']);
    expect(lines).toHaveLength(8);
  });

  it('--check validates without running', async () => {
    const { code, out } = await runCli('run', images, '--check');
    expect(code).toBe(ExitCode.ok);
    expect(out).toBe(`${images}: valid (1 stage)\n`);
  });

  it('--device picks where every model of the file runs; an unknown device is a usage error', async () => {
    const cpu = await runCli('run', images, '--check', '--device', 'cpu');
    expect(cpu.code).toBe(ExitCode.ok);
    const bad = await runCli('run', images, '--device', 'tpu');
    expect(bad.code).toBe(ExitCode.usage);
    expect(bad.err).toMatch(/--device.*tpu/);
  });

  it('a bad pipeline file: every problem with field and line:col, exit 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'version: 1\nsource: { type: images, path: . }\nstages:\n  - task: clasify\n    model: x\n',
    );
    const { code, out, err } = await runCli('run', file);
    expect(code).toBe(ExitCode.usage);
    expect(out).toBe('');
    expect(err).toBe(
      `rwkv-streams: MALFORMED_FILE: ${file}:4:11: stages[0].task: unknown task "clasify" (one of classify, segment, transcribe, forecast, anomaly)\n`,
    );
  });

  it('a stage that fails (onError: fail) exits 1 after the records made before it', async () => {
    const file = join(dir, 'fail.yaml');
    writeFileSync(join(dir, 'broken.png'), 'not an image');
    writeFileSync(
      file,
      `version: 1\nsource: { type: images, path: [${join(root, 'examples/pipelines/samples/fashion/003-t-shirt-top.png')}, broken.png] }\nstages:\n  - task: classify\n    model: ${join(root, 'models/vrwkv-fashion-mnist')}\n    batchSize: 1\n`,
    );
    const { code, out, err } = await runCli('run', file);
    expect(code).toBe(ExitCode.failure);
    expect(jsonLines(out).map((r) => r.index)).toEqual([0]);
    expect(err).toMatch(/^rwkv-streams: MALFORMED_FILE: stage 'classify', item 'broken.png': /);
  });

  it('a missing file is exit 1, naming it', async () => {
    const { code, err } = await runCli('run', join(dir, 'nope.yaml'));
    expect(code).toBe(ExitCode.failure);
    expect(err).toMatch(/FILE_NOT_FOUND: .*nope\.yaml: cannot read the pipeline file \(ENOENT\)/);
  });

  it('--help shows an example pipeline', async () => {
    const { code, out } = await runCli('run', '--help');
    expect(code).toBe(ExitCode.ok);
    expect(out).toContain('rwkv-streams run examples/pipelines/images.yaml');
    expect(out).toContain('onError: skip');
  });
});
