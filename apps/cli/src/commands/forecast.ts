import { writeFileSync } from 'node:fs';
import type { Device } from '@rwkv-streams/core';
import {
  forecastChartSvg,
  forecastSeries,
  formatForecastCsv,
  formatTimestamp,
  loadForecastModel,
  readSeriesCsv,
} from '@rwkv-streams/timeseries';
import { type Command, InvalidArgumentError } from 'commander';
import sharp from 'sharp';
import { deviceOption, positiveInt } from '../options.js';
import { useDevice } from '../use-device.js';

interface ForecastFlags {
  model: string;
  csv?: string;
  data?: string;
  horizon?: number;
  history: number;
  out?: string;
  plot?: string;
  channel?: string;
  json?: boolean;
  device: Device;
}

/**
 * `rwkv-streams forecast`: an RWKV-TS model folder (model.pth + config.json) forecasts the
 * rows after a CSV's last rows; CSV (history rows marked `history`, then `forecast`) on
 * stdout or to --out, or one JSON object with --json.
 */
export function addForecastCommand(program: Command, out: (text: string) => void): void {
  program
    .command('forecast')
    .description('forecast the rows after the end of a CSV with an RWKV-TS model folder')
    .requiredOption('--model <dir>', 'model folder: model.pth + config.json (e.g. models/rwkv-ts-etth1-96)')
    .option('--csv <file>', 'the series: a header row, a date column, one column per channel')
    .option('--data <file>', 'same as --csv')
    .option('--horizon <n>', "rows to forecast (default and most: the model's)", positiveInt('--horizon'))
    .option('--history <n>', 'also write the last n history rows', positiveInt('--history'), undefined)
    .option('--out <file>', 'write the CSV there instead of stdout')
    .option('--plot <file.png>', 'also draw history and forecast of one channel as a PNG chart')
    .option('--channel <name>', 'the channel --plot draws (default: the last column)')
    .option('--json', 'print one JSON object instead of CSV')
    .addOption(deviceOption())
    .addHelpText(
      'after',
      '\nExamples:\n  rwkv-streams forecast --model models/rwkv-ts-etth1-96 --csv ETTh1.csv --horizon 24 --history 48\n  rwkv-streams forecast --model models/rwkv-ts-etth1-96 --csv ETTh1.csv --out f.csv --plot f.png --channel OT',
    )
    .action(async (flags: ForecastFlags) => {
      const csv = flags.csv ?? flags.data;
      if (!csv) throw new InvalidArgumentError('--csv <file> is required');
      await useDevice(flags.device);
      const loaded = loadForecastModel(flags.model, { device: flags.device });
      try {
        const series = await readSeriesCsv(csv);
        const f = await forecastSeries(loaded, series, flags.horizon ?? loaded.card.predLen);
        if (flags.plot) {
          const channel = flags.channel ?? f.columns[f.columns.length - 1]!;
          const svg = await forecastChartSvg(series, f, {
            channel,
            historyRows: flags.history ?? loaded.card.seqLen,
          });
          writeFileSync(flags.plot, await sharp(Buffer.from(svg)).png().toBuffer());
        }
        if (flags.json) {
          const C = f.columns.length;
          const rows = Array.from({ length: f.horizon }, (_, r) =>
            Array.from(f.values.subarray(r * C, (r + 1) * C)),
          );
          const text = `${JSON.stringify({
            model: flags.model,
            horizon: f.horizon,
            columns: f.columns,
            ...(f.timestamps ? { dates: Array.from(f.timestamps, formatTimestamp) } : {}),
            forecast: rows,
          })}\n`;
          if (flags.out) writeFileSync(flags.out, text);
          else out(text);
          return;
        }
        const text = formatForecastCsv(series, f, { historyRows: flags.history ?? 0 });
        if (flags.out) writeFileSync(flags.out, text);
        else out(text);
      } finally {
        await loaded.model.dispose();
      }
    });
}
