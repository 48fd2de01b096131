import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it, vi } from 'vitest';
import { runPipeline } from './run.js';
import type { PipelineFileInput } from './schema.js';
import type { PipelineRecord } from './stage.js';

/**
 * A retry that succeeds: an image that is corrupt when the batched first attempt reads it
 * and repaired before the retry (a file still being written, say). The core's retrying()
 * is wrapped to repair the file when the first retry starts: no timing involved.
 */
const repairs: (() => void)[] = [];
vi.mock('@rwkv-streams/core', async (importOriginal) => {
  const core = await importOriginal<typeof import('@rwkv-streams/core')>();
  return {
    ...core,
    retrying: ((project, options) =>
      core.retrying((...args: Parameters<typeof project>) => {
        for (const repair of repairs.splice(0)) repair();
        return project(...args);
      }, options)) as typeof core.retrying,
  };
});

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fashion = join(root, 'examples/pipelines/samples/fashion');
const dir = mkdtempSync(join(tmpdir(), 'rwkv-pipeline-retry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a corrupt image repaired before the retry gets its result, with the attempts made', async () => {
  const [first, second] = readdirSync(fashion);
  copyFileSync(join(fashion, first!), join(dir, 'a.png'));
  writeFileSync(join(dir, 'b.png'), 'half written');
  repairs.push(() => copyFileSync(join(fashion, second!), join(dir, 'b.png')));
  const records: PipelineRecord[] = [];
  const summary = await runPipeline(
    {
      version: 1,
      source: { type: 'images', path: dir },
      stages: [
        {
          task: 'classify',
          model: join(root, 'models/vrwkv-fashion-mnist'),
          onError: { retry: { retries: 3, backoffMs: 1 } },
        },
      ],
    } as PipelineFileInput,
    { stdout: () => {}, onRecord: (r) => records.push(r) },
  );
  expect(repairs).toHaveLength(0);
  expect(records.map((r) => [r.id, r.attempts, r.error])).toEqual([
    [join(dir, 'a.png'), undefined, undefined],
    [join(dir, 'b.png'), 2, undefined],
  ]);
  expect(records[1]!.result).toHaveProperty('top');
  expect(summary.stages[0]).toMatchObject({ retries: 1, errors: 0, records: 2 });
});
