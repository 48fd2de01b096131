import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../test/run-cli.js';
import { BENCH_PACKAGES, SHIPPED_MODELS } from '../bench/common.js';
import { type BenchReport, formatBenchTable, PEAK_RSS_FIGURE } from '../bench/run.js';
import { ETTH1_EXCERPT } from '../bench/timeseries.js';
import { ExitCode } from '../main.js';

/**
 * `rwkv-streams bench` on the shipped models (skipped, saying why, where they are absent):
 * every package reports positive finite figures in one table. Figures are never compared
 * with numbers: they depend on the machine.
 */
const needed = [
  join(SHIPPED_MODELS, 'demo-lm', 'model.safetensors'),
  join(SHIPPED_MODELS, 'vrwkv-fashion-mnist', 'test-sample-images.u8'),
  join(SHIPPED_MODELS, 'vrwkv-mnist-scenes', 'test-sample-images.u8'),
  join(SHIPPED_MODELS, 'rwkv-speech-en-synth', 'model.safetensors'),
  join(SHIPPED_MODELS, 'rwkv-ts-etth1-96', 'model.pth'),
  ETTH1_EXCERPT,
];
const missing = needed.filter((f) => !existsSync(f));
const skip = missing.length > 0 ? ` (skipped: ${missing.join(', ')} absent)` : '';

const isTTY = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
afterEach(() => {
  if (isTTY) Object.defineProperty(process.stderr, 'isTTY', isTTY);
  else delete (process.stderr as { isTTY?: boolean }).isTTY;
});

describe('rwkv-streams bench', () => {
  it.skipIf(missing.length > 0)(
    `bench --quick --json: positive finite figures for every package, one table${skip}`,
    async () => {
      const r = await runCli('bench', '--quick', '--json');
      expect(r.code).toBe(ExitCode.ok);
      // Not a terminal: no bar, nothing on stderr.
      expect(r.err).toBe('');
      const report = JSON.parse(r.out) as BenchReport;
      expect(report.devices).toEqual(['cpu']);
      expect(report.packages).toEqual([...BENCH_PACKAGES]);
      expect(report.quick).toBe(true);
      for (const pkg of BENCH_PACKAGES) {
        const rows = report.rows.filter((row) => row.package === pkg);
        expect(rows.length, pkg).toBeGreaterThanOrEqual(2);
        for (const row of rows) {
          const v = row.values.cpu;
          expect(Number.isFinite(v), `${pkg}: ${row.figure}`).toBe(true);
          expect(v, `${pkg}: ${row.figure}`).toBeGreaterThan(0);
          expect(row.unit.length).toBeGreaterThan(0);
        }
      }
      // Accuracy figures are in their ranges (never an exact value: they are the model's).
      for (const row of report.rows) {
        if (row.unit === '%') expect(row.values.cpu).toBeLessThanOrEqual(100);
        if (row.unit === 'mIoU') expect(row.values.cpu).toBeLessThanOrEqual(1);
      }
      const rss = report.rows.at(-1)!;
      expect(rss).toMatchObject({ package: 'all', figure: PEAK_RSS_FIGURE, unit: 'MiB' });
      expect(rss.values.cpu).toBeGreaterThan(0);

      // The table: a title, a header, a rule, then one line per row, columns aligned.
      const lines = formatBenchTable(report).trimEnd().split('\n');
      expect(lines[0]).toMatch(/^rwkv-streams bench --quick: .*cores; node v/);
      expect(lines[1]).toMatch(/^package\s+figure\s+unit\s+cpu$/);
      expect(lines[2]).toMatch(/^-+ {2}-+ {2}-+ {2}-+$/);
      expect(lines).toHaveLength(3 + report.rows.length);
      const width = lines[1]!.length;
      const starts = [...lines[2]!.matchAll(/-+/g)].map((m) => m.index);
      for (const [i, line] of lines.slice(3).entries()) {
        const row = report.rows[i]!;
        expect(line.length).toBe(width); // figures right-aligned to the last column
        expect(line.slice(starts[0], starts[1]).trim()).toBe(row.package);
        expect(line.slice(starts[1], starts[2]).trim()).toBe(row.figure);
        expect(line.slice(starts[2], starts[3]).trim()).toBe(row.unit);
        expect(Number(line.slice(starts[3]).trim())).toBeGreaterThan(0);
      }
    },
  );

  it.skipIf(missing.length > 0)(
    `--only picks packages; a bar on stderr only when it is a terminal${skip}`,
    async () => {
      Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
      const r = await runCli('bench', '--quick', '--only', 'timeseries');
      expect(r.code).toBe(ExitCode.ok);
      const lines = r.out.trimEnd().split('\n');
      expect(lines.slice(3).map((l) => l.split(/\s{2,}/)[0])).toEqual(['timeseries', 'timeseries', 'all']);
      // cli-progress's line: label, bar, percentage, counts, what runs now.
      expect(r.err).toMatch(/bench \[-{24}\] 0% \| 0\/1 packages \| timeseries: ETTh1/);
      expect(r.err).toContain('bench [========================] 100% | 1/1 packages');
    },
  );

  it('usage errors exit 2: an unknown package or device, an empty list', async () => {
    expect((await runCli('bench', '--only', 'core,nope')).code).toBe(ExitCode.usage);
    expect((await runCli('bench', '--only', ',')).code).toBe(ExitCode.usage);
    expect((await runCli('bench', '--device', 'cpu,tpu')).code).toBe(ExitCode.usage);
    const help = await runCli('bench', '--help');
    expect(help.code).toBe(ExitCode.ok);
    expect(help.out).toContain('rwkv-streams bench --device cpu,cuda');
  });
});
