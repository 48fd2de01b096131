import { fileURLToPath } from 'node:url';
import type { Device } from '@rwkv-streams/core';

/** The packages `rwkv-streams bench` measures, in the order the table lists them. */
export const BENCH_PACKAGES = ['core', 'vision', 'audio', 'timeseries'] as const;

/** One of {@link BENCH_PACKAGES}. */
export type BenchPackage = (typeof BENCH_PACKAGES)[number];

/** One measured figure of one package on one device. */
export interface BenchFigure {
  readonly package: BenchPackage;
  /** What was measured, on which model and input (one table cell). */
  readonly figure: string;
  readonly unit: string;
  readonly value: number;
}

/** How a package's figures are measured. */
export interface BenchOptions {
  readonly device: Device;
  /** Fewer and shorter runs (tests, CI): the figures are noisier, never different in kind. */
  readonly quick: boolean;
  /** The repository's `models/` folder (the shipped models are measured). */
  readonly models: string;
  /** Called as each figure starts (progress). */
  readonly onStep?: (what: string) => void;
}

/** The repository root, resolved from this package (works from src/ and dist/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** The shipped models, `models/` at the repository root. */
export const SHIPPED_MODELS = fileURLToPath(new URL('../../../../models/', import.meta.url));

/**
 * Items per second of `work` (which does some work and returns how many items it did),
 * called again until `minMs` has passed (at least once): repeating short work until a
 * fixed time is spent keeps a figure stable on a fast device and the run short on a slow
 * one. Warm-up (compilation, first runs) is the caller's, before this.
 */
export async function rate(work: () => Promise<number>, minMs: number): Promise<number> {
  let items = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    items += await work();
    elapsed = performance.now() - t0;
  } while (elapsed < minMs);
  return (items * 1000) / elapsed;
}

/** The process's peak resident set size so far, MiB (`maxRSS` is in KiB). */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}
