import { cpus } from 'node:os';
import type { Device } from '@rwkv-streams/core';
import { benchAudio } from './audio.js';
import {
  BENCH_PACKAGES,
  type BenchFigure,
  type BenchOptions,
  type BenchPackage,
  peakRssMiB,
  SHIPPED_MODELS,
} from './common.js';
import { benchCore } from './core.js';
import { benchTimeseries } from './timeseries.js';
import { benchVision } from './vision.js';

/** The measuring function of each package. */
export const BENCHES: Readonly<Record<BenchPackage, (o: BenchOptions) => Promise<BenchFigure[]>>> = {
  core: benchCore,
  vision: benchVision,
  audio: benchAudio,
  timeseries: benchTimeseries,
};

/** One row of the table: a figure with its value on each device measured. */
export interface BenchRow {
  readonly package: BenchPackage | 'all';
  readonly figure: string;
  readonly unit: string;
  readonly values: Partial<Record<Device, number>>;
}

/** What `rwkv-streams bench` measured (its --json output). */
export interface BenchReport {
  readonly devices: readonly Device[];
  readonly packages: readonly BenchPackage[];
  readonly quick: boolean;
  /** The CPU model and cores, and the Node version. */
  readonly machine: string;
  readonly rows: readonly BenchRow[];
  /** Wall time of the whole run. */
  readonly seconds: number;
}

/** What runBench needs. */
export interface RunBenchOptions {
  readonly devices: readonly Device[];
  readonly packages: readonly BenchPackage[];
  readonly quick: boolean;
  /** The models folder (default: the repository's models/). */
  readonly models?: string;
  /** Called as each package starts on a device, and as each figure starts. */
  readonly onPackage?: (pkg: BenchPackage, device: Device) => void;
  readonly onStep?: (what: string) => void;
}

/** The peak RSS row's figure. */
export const PEAK_RSS_FIGURE = 'peak RSS of the process, after this device';

/**
 * Measures the packages on each device in turn (all packages on the first device, then the
 * next), and gathers the figures into rows with a value per device. The last row is the
 * process's peak RSS when each device's measurements were done (a peak only grows, so a
 * later device's value includes the earlier ones').
 */
export async function runBench(o: RunBenchOptions): Promise<BenchReport> {
  const t0 = performance.now();
  const rows: {
    package: BenchPackage | 'all';
    figure: string;
    unit: string;
    values: Partial<Record<Device, number>>;
  }[] = [];
  const rowOf = (pkg: BenchPackage | 'all', figure: string, unit: string) => {
    let row = rows.find((r) => r.package === pkg && r.figure === figure && r.unit === unit);
    if (!row) {
      row = { package: pkg, figure, unit, values: {} };
      rows.push(row);
    }
    return row;
  };
  // Packages in the table's order, whatever order --only gave.
  const packages = BENCH_PACKAGES.filter((p) => o.packages.includes(p));
  const rss: Partial<Record<Device, number>> = {};
  for (const device of o.devices) {
    for (const pkg of packages) {
      o.onPackage?.(pkg, device);
      const figures = await BENCHES[pkg]({
        device,
        quick: o.quick,
        models: o.models ?? SHIPPED_MODELS,
        ...(o.onStep ? { onStep: o.onStep } : {}),
      });
      for (const f of figures) rowOf(f.package, f.figure, f.unit).values[device] = f.value;
    }
    rss[device] = peakRssMiB();
  }
  rows.push({ package: 'all', figure: PEAK_RSS_FIGURE, unit: 'MiB', values: rss });
  const cpu = cpus();
  return {
    devices: [...o.devices],
    packages,
    quick: o.quick,
    machine: `${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores; node ${process.version}`,
    rows,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** A figure as the table prints it: 4 significant digits below 1, 2 decimals below 100, else whole. */
export function formatFigure(v: number | undefined): string {
  if (v === undefined) return '-';
  const a = Math.abs(v);
  if (a < 1) return v.toPrecision(4);
  if (a < 100) return v.toFixed(2);
  return v.toFixed(0);
}

/**
 * The report as one aligned table (package | figure | unit | a column per device), a line
 * above saying where and how it ran.
 */
export function formatBenchTable(report: BenchReport): string {
  const header = ['package', 'figure', 'unit', ...report.devices];
  const body = report.rows.map((r) => [
    r.package,
    r.figure,
    r.unit,
    ...report.devices.map((d) => formatFigure(r.values[d])),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  // Text columns left-aligned, figures right-aligned.
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [
    `rwkv-streams bench${report.quick ? ' --quick' : ''}: ${report.machine}; ${report.seconds.toFixed(1)} s`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
  ].join('\n');
}
