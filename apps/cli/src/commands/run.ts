import { type Device, setDefaultDevice } from '@rwkv-streams/core';
import {
  loadPipelineFile,
  PipelineFileError,
  type PipelineSummary,
  runPipeline,
  type StdinSource,
} from '@rwkv-streams/pipelines';
import { type Command, CommanderError } from 'commander';
import { deviceOption } from '../options.js';
import { useDevice } from '../use-device.js';

/** What the command reads and writes besides `out` (stdout); replaced in tests. */
export interface RunIo {
  /** What a pipeline source of `-` reads. */
  readonly stdin?: StdinSource;
  /** The summary, --metrics and errors. */
  readonly stderr: { write(text: string): unknown };
  /** Stops the run as the file's `shutdown` says (the CLI also listens to SIGINT/SIGTERM). */
  readonly signal?: AbortSignal;
}

interface RunFlags {
  device: Device;
  json?: boolean;
  metrics?: boolean;
  check?: boolean;
}

/** One line per stage: what it did, for people. */
function summaryText(s: PipelineSummary): string {
  const head = `run: ${s.name ?? s.file}: ${s.items} items, ${s.records} records (${s.errors} with errors) in ${s.seconds.toFixed(2)} s${s.stopped === 'completed' ? '' : `, stopped (${s.stopped})`}`;
  const stages = s.stages.map((t) => {
    const extra = [
      t.passedOver ? `${t.passedOver} passed over` : '',
      t.flowDropped ? `${t.flowDropped} dropped by flow` : '',
      t.retries ? `${t.retries} retries` : '',
    ].filter(Boolean);
    return `  ${t.name} (${t.task}): ${t.itemsIn} in, ${t.records} records, ${t.errors} errors${extra.length ? `, ${extra.join(', ')}` : ''}; latency p50 ${t.latencyMs.p50.toFixed(1)} ms, p99 ${t.latencyMs.p99.toFixed(1)} ms`;
  });
  return `${[head, ...stages].join('\n')}\n`;
}

/**
 * `rwkv-streams run PIPELINE`: runs a pipeline file (YAML, or JSON by its `.json` name):
 * records as JSON lines to the file's sink (stdout by default), a summary on stderr (or as a
 * last `{"summary": ...}` line on stdout with --json), Prometheus text on stderr with
 * --metrics. A file that is not a valid pipeline prints every problem with its field and
 * line:col and exits 2; an item failing a stage whose `onError` is `fail` exits 1.
 */
export function addRunCommand(program: Command, out: (text: string) => void, io?: RunIo): void {
  program
    .command('run')
    .description('run a pipeline file (YAML or JSON): a source, task stages on real models, a sink, metrics')
    .argument('<pipeline>', 'the pipeline file (.yaml/.yml, or .json); see examples/pipelines/README.md')
    .option(
      '--json',
      'print the summary as a last JSON line {"summary": {...}} on stdout instead of text on stderr',
    )
    .option('--metrics', "print every stage's metrics in Prometheus text on stderr at the end")
    .addOption(deviceOption())
    .option('--check', 'only validate the file (and that its models and inputs exist), run nothing')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  rwkv-streams run examples/pipelines/images.yaml',
        '  rwkv-streams run examples/pipelines/fan-out.yaml --metrics',
        '  rwkv-streams run my-pipeline.yaml --check',
        '  arecord -f S16_LE -r 16000 -c 1 -t raw | rwkv-streams run examples/pipelines/live-pcm.yaml',
        '',
        'A pipeline file:',
        '  version: 1',
        '  source: { type: images, path: photos/ }',
        '  stages:',
        '    - task: classify',
        '      model: models/vrwkv-fashion-mnist',
        '      onError: skip                                  # or fail, or { retry: { retries: 2 }, otherwise: skip }',
        '      flow: { capacity: 8, policy: drop-oldest }',
        '',
        "Relative paths resolve against the file's folder. SIGINT/SIGTERM stop the run as its",
        '`shutdown` says: drain (finish what is in flight) or abort (stop at once).',
        'Exit codes: 0 done, 1 a stage failed (onError: fail) or an input could not be read,',
        '2 a bad command line or pipeline file.',
      ].join('\n'),
    )
    .action(async (file: string, flags: RunFlags) => {
      const stderr = io?.stderr ?? process.stderr;
      // every model the pipeline loads names no device of its own, so they all follow this one
      await useDevice(flags.device);
      setDefaultDevice(flags.device);
      let loaded: ReturnType<typeof loadPipelineFile>;
      try {
        loaded = loadPipelineFile(file);
      } catch (err) {
        if (!(err instanceof PipelineFileError)) throw err;
        // a bad file is a usage error (exit 2), reported the way commander reports its own
        stderr.write(`rwkv-streams: ${err.code}: ${err.message}\n`);
        throw new CommanderError(2, 'rwkv-streams.badPipelineFile', err.message);
      }
      if (flags.check) {
        out(
          `${loaded.file}: valid (${loaded.spec.stages.length} ${loaded.spec.stages.length === 1 ? 'stage' : 'stages'})\n`,
        );
        return;
      }
      const summary = await runPipeline(loaded, {
        processSignals: true,
        stdout: out,
        ...(io?.stdin ? { stdin: io.stdin } : {}),
        ...(io?.signal ? { signal: io.signal } : {}),
      });
      if (flags.metrics) stderr.write(summary.prometheus);
      if (flags.json) {
        const { prometheus: _, ...rest } = summary;
        out(`${JSON.stringify({ summary: rest })}\n`);
      } else stderr.write(summaryText(summary));
    });
}
