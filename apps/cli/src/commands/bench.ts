import type { Device } from '@rwkv-streams/core';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { BENCH_PACKAGES, type BenchPackage } from '../bench/common.js';
import { formatBenchTable, runBench } from '../bench/run.js';
import { deviceOption } from '../options.js';
import { startProgress } from '../progress.js';
import { useDevice } from '../use-device.js';

interface BenchFlags {
  device: Device[];
  only: BenchPackage[];
  quick?: boolean;
  json?: boolean;
}

/** Parses a comma-separated list of `allowed` names (commander turns the error into exit code 2). */
const listOf =
  <T extends string>(flag: string, allowed: readonly T[]) =>
  (value: string): T[] => {
    const names = value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const bad = names.filter((n) => !(allowed as readonly string[]).includes(n));
    if (names.length === 0 || bad.length > 0)
      throw new InvalidArgumentError(
        `${flag}: ${bad.length > 0 ? `unknown ${bad.join(', ')}` : 'empty'}; one or more of ${allowed.join(', ')}, comma-separated`,
      );
    return [...new Set(names as T[])];
  };

/** The devices every model command accepts (deviceOption's choices, so the list is kept once). */
const DEVICES = (deviceOption().argChoices ?? ['cpu']) as Device[];

/**
 * `rwkv-streams bench`: the headline figures of every package, measured now on the models
 * we ship (the demo LM, the vision models with their test samples, the speech model on
 * synthetic audio, the ETTh1 forecaster on the rows in examples/data), as one table with a
 * column per --device, or one JSON object with --json. The measuring is in `src/bench/`,
 * one file a package.
 */
export function addBenchCommand(program: Command, out: (text: string) => void): void {
  program
    .command('bench')
    .description('measure the headline figures of every package on the shipped models, one table')
    .addOption(
      new Option(
        '--device <devices>',
        `where to run, comma-separated for a column each (${DEVICES.join(', ')})`,
      )
        .argParser(listOf('--device', DEVICES))
        .default(['cpu'], 'cpu'),
    )
    .addOption(
      new Option('--only <packages>', `measure only these packages (${BENCH_PACKAGES.join(', ')})`)
        .argParser(listOf('--only', BENCH_PACKAGES))
        .default([...BENCH_PACKAGES], 'all'),
    )
    .option('--quick', 'fewer and shorter runs (tests, CI): about 10 s on 2 cores, noisier figures')
    .option(
      '--json',
      'one JSON object: {devices, packages, quick, machine, rows: [{package, figure, unit, values}], seconds}',
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  rwkv-streams bench',
        '  rwkv-streams bench --quick --only core,vision',
        '  rwkv-streams bench --device cpu,cuda --json > figures.json',
        '',
        'Figures are measured each run, after a warm-up, on the models in models/: the demo LM',
        '(decode and prefill tokens/s), the Fashion-MNIST classifier and MNIST-scenes segmenter',
        '(images/s, and accuracy on the shipped test samples), the speech model on synthetic audio',
        '(real-time factor, streams sustained) and the 96-hour ETTh1 forecaster on',
        'examples/data/ETTh1-last-1000.csv (windows/s, MSE). A bar shows progress on stderr when',
        'it is a terminal.',
      ].join('\n'),
    )
    .action(async (flags: BenchFlags) => {
      for (const d of flags.device) await useDevice(d);
      const progress = startProgress({
        total: flags.device.length * flags.only.length,
        label: 'bench',
        unit: 'packages',
      });
      let done = -1;
      let device = flags.device[0]!;
      try {
        const report = await runBench({
          devices: flags.device,
          packages: flags.only,
          quick: flags.quick === true,
          onPackage: (pkg, d) => {
            device = d;
            progress.update(++done, `${pkg} on ${d}`);
          },
          onStep: (what) => progress.update(Math.max(done, 0), `${what} on ${device}`),
        });
        progress.update(done + 1);
        progress.stop();
        out(flags.json ? `${JSON.stringify(report)}\n` : formatBenchTable(report));
      } finally {
        progress.stop();
      }
    });
}
