import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  ByteLanguageModel,
  configOfWeights,
  type Device,
  describeRwkvModel,
  FileNotFoundError,
  LN_X_EPS_METADATA,
  loadRwkvModel,
  loadWeights,
  RwkvError,
  writeSafetensorsFile,
} from '@rwkv-streams/core';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { addBenchCommand } from './commands/bench.js';
import { addClassifyCommand } from './commands/classify.js';
import { addForecastCommand } from './commands/forecast.js';
import { addForecastEvalCommand } from './commands/forecast-eval.js';
import { addLexiconCommand } from './commands/lexicon.js';
import { addRunCommand } from './commands/run.js';
import { addSegmentCommand } from './commands/segment.js';
import { addServeCommand } from './commands/serve.js';
import { describeSpeechModel, isSpeechModel } from './commands/speech-info.js';
import { addTranscribeCommand } from './commands/transcribe.js';
import { deviceOption, positiveInt } from './options.js';
import { useDevice } from './use-device.js';

/** Exit codes a script can rely on. */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const;

interface ModelFlags {
  model: string;
  device: Device;
  threads?: number;
  quantization: 'none' | 'int8' | 'int4';
}

const nonNegative = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number >= 0`);
  return n;
};

function withModelFlags(cmd: Command): Command {
  return cmd
    .requiredOption('--model <file>', 'model file: safetensors, official .pth, or rwkv.cpp .bin')
    .addOption(deviceOption())
    .option('--threads <n>', 'CPU threads (default: onnxruntime decides)', positiveInt('--threads'))
    .addOption(
      new Option('--quantization <q>', 'block-quantize the linear layers (MatMulNBits)')
        .choices(['none', 'int8', 'int4'])
        .default('none'),
    );
}

async function open(flags: ModelFlags): Promise<ByteLanguageModel> {
  await useDevice(flags.device);
  const model = await loadRwkvModel(flags.model, {
    device: flags.device,
    ...(flags.threads ? { threads: flags.threads } : {}),
  });
  return new ByteLanguageModel(model);
}

/** Builds the command tree (exported for tests). */
export function buildProgram(out: (text: string) => void): Command {
  const program = new Command('rwkv-streams')
    .description('Run RWKV models from the command line.')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: (s) => process.stderr.write(s) });

  withModelFlags(program.command('logits'))
    .description("print the logits after the prompt's last byte as one JSON array")
    .requiredOption('--prompt <text>', 'prompt text (UTF-8 bytes are the tokens)')
    .addOption(
      new Option('--mode <mode>', 'recurrent: one token per step; sequence: whole prompt at once')
        .choices(['recurrent', 'sequence'])
        .default('recurrent'),
    )
    .addHelpText(
      'after',
      "\nExample:\n  rwkv-streams logits --model tiny-rwkv-7v0-834K-FP32.bin --prompt '\"in' --mode sequence",
    )
    .action(async (flags: ModelFlags & { prompt: string; mode: 'recurrent' | 'sequence' }) => {
      const lm = await open(flags);
      const { logits } = await lm.logits(flags.prompt, flags.mode);
      out(`${JSON.stringify(Array.from(logits))}\n`);
      await lm.model.dispose();
    });

  withModelFlags(program.command('generate'))
    .description('generate bytes after a prompt and print them')
    .requiredOption('--prompt <text>', 'prompt text')
    .requiredOption('--tokens <n>', 'number of bytes to generate', positiveInt('--tokens'))
    .option('--temperature <t>', '0 = greedy', nonNegative('--temperature'), 1)
    .option('--top-p <p>', 'nucleus sampling mass in (0, 1]', nonNegative('--top-p'), 0.9)
    .option('--seed <n>', 'random seed for reproducible output', positiveInt('--seed'))
    .addHelpText(
      'after',
      '\nExample:\n  rwkv-streams generate --model models/demo-lm/model.safetensors --prompt "The " --tokens 200 --temperature 0.8',
    )
    .action(
      async (
        flags: ModelFlags & {
          prompt: string;
          tokens: number;
          temperature: number;
          topP: number;
          seed?: number;
        },
      ) => {
        const lm = await open(flags);
        const decoder = new TextDecoder();
        await lm.generate(flags.prompt, {
          maxTokens: flags.tokens,
          temperature: flags.temperature,
          topP: flags.topP,
          ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
          onToken: (t) => out(decoder.decode(Uint8Array.of(t), { stream: true })),
        });
        out(`${decoder.decode()}\n`);
        await lm.model.dispose();
      },
    );
  withModelFlags(program.command('bpb'))
    .description('measure bits per byte of a text file (mean -log2 p(next byte) from a fresh state), as JSON')
    .requiredOption('--text <file>', 'text file to evaluate')
    .option('--bytes <n>', 'evaluate only the first n bytes', positiveInt('--bytes'))
    .option(
      '--chunk <n>',
      'bytes per sequence-mode call (state carried between calls)',
      positiveInt('--chunk'),
      1024,
    )
    .addHelpText(
      'after',
      '\nExample:\n  rwkv-streams bpb --model models/demo-lm/model.safetensors --text models/demo-lm/validation.txt --quantization int8',
    )
    .action(async (flags: ModelFlags & { text: string; bytes?: number; chunk: number }) => {
      let text: Uint8Array;
      try {
        text = new Uint8Array(readFileSync(flags.text));
      } catch (err) {
        throw new FileNotFoundError(
          `cannot read the text file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
          { file: flags.text },
        );
      }
      if (flags.bytes !== undefined) text = text.subarray(0, flags.bytes);
      const lm = await open(flags);
      const started = performance.now();
      const { bitsPerByte, bytes } = await lm.bitsPerByte(text, flags.chunk);
      const seconds = (performance.now() - started) / 1000;
      out(
        `${JSON.stringify({ model: flags.model, quantization: flags.quantization, text: flags.text, bytes, bitsPerByte, seconds })}\n`,
      );
      await lm.model.dispose();
    });
  program
    .command('info')
    .description(
      'describe a model file: format, RWKV version, sizes, stored precision, parameter count (JSON)',
    )
    .argument(
      '<model>',
      'safetensors, official .pth or rwkv.cpp .bin, or a model folder holding model.safetensors',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  rwkv-streams info models/demo-lm/model.safetensors\n  rwkv-streams info models/rwkv-speech-en-synth',
    )
    .action((model: string) => {
      const file = loadWeights(
        existsSync(model) && statSync(model).isDirectory() ? join(model, 'model.safetensors') : model,
      );
      if (isSpeechModel(file)) {
        out(`${JSON.stringify(describeSpeechModel(model, file))}\n`);
        return;
      }
      const { config, tensors, unused, loraDims } = describeRwkvModel(file);
      const stored = new Map<string, number>();
      let parameters = 0;
      for (const t of tensors.values()) {
        parameters += t.data.length;
        stored.set(t.storedAs, (stored.get(t.storedAs) ?? 0) + t.data.length);
      }
      out(
        `${JSON.stringify({
          file: model,
          format: file.format,
          version: config.version === 5 ? '5.2' : String(config.version),
          layers: config.nLayer,
          embedding: config.nEmbd,
          vocabulary: config.nVocab,
          ffn: config.dimFfn,
          heads: config.nHead,
          headSize: config.headSize,
          loraDims,
          parameters,
          storedAs: Object.fromEntries(stored),
          unusedTensors: unused,
        })}\n`,
      );
    });

  program
    .command('convert')
    .description(
      'convert any model file to safetensors with official tensor names (rwkv.cpp files are mapped back; quantized ones dequantized)',
    )
    .argument('<model>', 'safetensors, official .pth or rwkv.cpp .bin')
    .requiredOption('--out <file>', 'safetensors file to write')
    .addOption(
      new Option('--dtype <dtype>', 'stored precision').choices(['float32', 'float16']).default('float32'),
    )
    .addHelpText(
      'after',
      '\nExample:\n  rwkv-streams convert tiny-rwkv-7v0-834K-FP16.bin --out tiny-v7.safetensors --dtype float16',
    )
    .action((model: string, flags: { out: string; dtype: 'float32' | 'float16' }) => {
      const { config, tensors } = configOfWeights(loadWeights(model));
      const metadata: Record<string, string> = {
        format: 'pt',
        rwkv_version: String(config.version),
        converted_from: model,
        converted_by: 'rwkv-streams convert',
        // Keep a non-default ln_x epsilon (rwkv.cpp's RWKV-5) so the function stays the same.
        ...(config.lnXEpsilon !== undefined ? { [LN_X_EPS_METADATA]: String(config.lnXEpsilon) } : {}),
      };
      // Checked after writing: the file must read back as the same model.
      writeSafetensorsFile(flags.out, tensors, { dtype: flags.dtype, metadata });
      const back = describeRwkvModel(loadWeights(flags.out));
      out(
        `${JSON.stringify({ from: model, to: flags.out, version: back.config.version, tensors: back.tensors.size, dtype: flags.dtype })}\n`,
      );
    });
  addForecastCommand(program, out);
  addForecastEvalCommand(program, out);
  addTranscribeCommand(program, out);
  addLexiconCommand(program, out);
  addClassifyCommand(program, out);
  addSegmentCommand(program, out);
  addRunCommand(program, out);
  addServeCommand(program, out);
  addBenchCommand(program, out);
  return program;
}

/** Runs the CLI; returns the exit code. */
export async function main(
  argv: readonly string[],
  out: (text: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const program = buildProgram(out);
  try {
    await program.parseAsync([...argv]);
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (err instanceof RwkvError) {
      process.stderr.write(`rwkv-streams: ${err.code}: ${err.message}\n`);
      return ExitCode.failure;
    }
    throw err;
  }
}
