import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Device } from '@rwkv-streams/core';
import {
  type EttEvaluation,
  evaluateEttTest,
  loadForecastModel,
  readSeriesCsv,
} from '@rwkv-streams/timeseries';
import { type Command, InvalidArgumentError } from 'commander';
import { deviceOption, positiveInt } from '../options.js';
import { startProgress } from '../progress.js';
import { useDevice } from '../use-device.js';

/** ETTh1 averages over the four horizons as published (RWKV-TS paper, arXiv 2401.09093, and its baselines). */
export const ETTH1_PUBLISHED = [
  { model: 'RWKV-TS (paper)', mse: 0.433, mae: 0.445 },
  { model: 'PatchTST', mse: 0.413, mae: 0.43 },
  { model: 'DLinear', mse: 0.423, mae: 0.437 },
] as const;

interface EvalFlags {
  csv?: string;
  data?: string;
  models?: string[];
  model?: string[];
  windows?: number;
  json?: boolean;
  device: Device;
}

/** The shipped ETTh1 model folders, when run from the repository root. */
function defaultModels(): string[] {
  return [96, 192, 336, 720].map((h) => join('models', `rwkv-ts-etth1-${h}`)).filter((d) => existsSync(d));
}

/**
 * `rwkv-streams forecast-eval`: test-split MSE / MAE of RWKV-TS model folders on an
 * hourly ETT-format CSV (standard protocol: every test window, all channels, standardized),
 * one JSON line per model horizon with --json (then one for the average), else a table
 * beside the published averages.
 */
export function addForecastEvalCommand(program: Command, out: (text: string) => void): void {
  program
    .command('forecast-eval')
    .description('evaluate RWKV-TS model folders on the test split of an hourly ETT-format CSV')
    .option('--csv <file>', 'the ETT-format CSV (e.g. ETTh1.csv)')
    .option('--data <file>', 'same as --csv')
    .option('--models <dir...>', 'model folders (default: models/rwkv-ts-etth1-{96,192,336,720})')
    .option('--model <dir...>', 'same as --models')
    .option('--windows <n>', 'only the first n test windows (a quick check)', positiveInt('--windows'))
    .option('--json', 'one JSON line per horizon, then the average')
    .addOption(deviceOption())
    .addHelpText('after', '\nExample:\n  rwkv-streams forecast-eval --csv ETTh1.csv --json')
    .action(async (flags: EvalFlags) => {
      const csv = flags.csv ?? flags.data;
      if (!csv) throw new InvalidArgumentError('--csv <file> is required');
      const dirs = [...(flags.models ?? []), ...(flags.model ?? [])];
      if (dirs.length === 0) dirs.push(...defaultModels());
      if (dirs.length === 0) throw new InvalidArgumentError('no model folders: give --models <dir...>');
      const series = await readSeriesCsv(csv);
      await useDevice(flags.device);
      const results: (EttEvaluation & { pytorchMse?: number; pytorchMae?: number; seconds: number })[] = [];
      // A step a model folder: each is a whole test split (seconds to minutes on a CPU).
      const progress = startProgress({ total: dirs.length, label: 'forecast-eval', unit: 'models' });
      try {
        for (const dir of dirs) {
          progress.update(results.length, basename(dir));
          const loaded = loadForecastModel(dir, { device: flags.device });
          const t0 = performance.now();
          try {
            const r = await evaluateEttTest(loaded, series, {
              ...(flags.windows !== undefined ? { windows: flags.windows } : {}),
            });
            const { testMse, testMae } = loaded.card;
            const row = {
              ...r,
              ...(flags.windows === undefined && testMse !== undefined
                ? { pytorchMse: testMse, pytorchMae: testMae }
                : {}),
              seconds: (performance.now() - t0) / 1000,
            };
            results.push(row);
            if (flags.json) progress.print(() => out(`${JSON.stringify({ model: dir, ...row })}\n`));
          } finally {
            await loaded.model.dispose();
          }
        }
        progress.update(results.length);
      } finally {
        progress.stop();
      }
      const avg = (k: 'mse' | 'mae') => results.reduce((s, r) => s + r[k], 0) / results.length;
      if (flags.json) {
        out(
          `${JSON.stringify({ horizon: 'average', models: results.length, mse: avg('mse'), mae: avg('mae'), published: ETTH1_PUBLISHED })}\n`,
        );
        return;
      }
      const f = (v: number) => v.toFixed(4);
      out('horizon  windows  MSE     MAE     (PyTorch at export)\n');
      for (const r of results)
        out(
          `${String(r.horizon).padEnd(9)}${String(r.windows).padEnd(9)}${f(r.mse)}  ${f(r.mae)}  ${r.pytorchMse !== undefined ? `(${f(r.pytorchMse)} ${f(r.pytorchMae!)})` : ''}\n`,
        );
      out(`average           ${f(avg('mse'))}  ${f(avg('mae'))}  rwkv-streams, ${results.length} horizons\n`);
      if (flags.windows !== undefined) {
        out(`(the first ${flags.windows} test windows only: not comparable with the published figures)\n`);
        return;
      }
      for (const p of ETTH1_PUBLISHED)
        out(`                  ${f(p.mse)}  ${f(p.mae)}  ${p.model}, published average\n`);
    });
}
