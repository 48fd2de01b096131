import { existsSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type DecodingMethod,
  decodePcm,
  findLexiconBeside,
  type LexiconWeights,
  lexiconWeightsFor,
  loadSpeechModel,
  loadWav,
  SpeechRecognizer,
  type TranscriptEvent,
  transcribe,
  WordLexicon,
} from '@rwkv-streams/audio';
import { BadInputError, BadMagicError, type Device, FileNotFoundError } from '@rwkv-streams/core';
import { type Command, Option } from 'commander';
import { from, lastValueFrom, Observable, type OperatorFunction, tap } from 'rxjs';
import { deviceOption, finiteNumber, nonNegativeNumber, positiveInt } from '../options.js';
import { startProgress } from '../progress.js';
import { useDevice } from '../use-device.js';

/** The speech model we train and ship, resolved from this package (works from src/ and dist/). */
export const SHIPPED_SPEECH_MODEL = fileURLToPath(
  new URL('../../../../models/rwkv-speech-en-synth/', import.meta.url),
);

/** The recognizer's input rate: stdin must be raw PCM at this rate. */
const SAMPLE_RATE = 16000;

/**
 * Samples handed to the recognizer at a time: 160 ms, one decoding chunk of the recognizer
 * (4 encoder steps of 40 ms), so endpoints are checked as often as the recognizer decodes, and
 * a file and the same audio on stdin are cut alike (the same utterances).
 */
export const TRANSCRIBE_CHUNK_SAMPLES = 2560;

/** Files at least this long get a progress bar (on a terminal's stderr): a shorter one is done before a bar means anything. */
const PROGRESS_MIN_SECONDS = 30;

/** What the command reads and writes besides `out` (stdout); replaced in tests. */
export interface TranscribeIo {
  /** Raw 16 kHz s16le mono PCM, read when FILE is `-`. */
  readonly stdin: AsyncIterable<Uint8Array> & { readonly isTTY?: boolean };
  /** Partial results with --json, and progress. */
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
  /** Whether stdout is a terminal (then --partials redraws one line there). */
  readonly stdoutIsTTY: boolean;
  /** The terminal's width, when it is one (a redrawn partial is cut to fit). */
  readonly columns?: number;
}

function processIo(): TranscribeIo {
  return {
    stdin: process.stdin,
    stderr: process.stderr,
    stdoutIsTTY: process.stdout.isTTY === true,
    ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
  };
}

interface TranscribeFlags {
  model?: string;
  json?: boolean;
  partials?: boolean;
  method: DecodingMethod;
  lexicon?: string;
  lmScale?: number;
  wordBonus?: number;
  beam?: number;
  leadingSilence?: number;
  threads?: number;
  device: Device;
}

/**
 * The word lexicon for beam search: the file given, none for "none", else the model
 * folder's `words.lex` or `words.tsv` when it has one (findLexiconBeside), at `weights`
 * (the library's defaults for those left out).
 */
function openLexicon(
  flag: string | undefined,
  modelPath: string,
  weights: LexiconWeights,
): WordLexicon | undefined {
  if (flag === 'none') return undefined;
  if (flag !== undefined) return WordLexicon.fromFile(flag, weights);
  const beside = findLexiconBeside(statSync(modelPath).isDirectory() ? modelPath : dirname(modelPath));
  return beside ? WordLexicon.fromFile(beside, weights) : undefined;
}

/** One utterance as --json prints it (times in seconds from the start of the audio). */
export interface TranscriptSegment {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly words: readonly { readonly word: string; readonly start: number; readonly end: number }[];
}

const ms = (seconds: number): number => Math.round(seconds * 1000) / 1000;

function segmentOf(e: TranscriptEvent): TranscriptSegment {
  return {
    text: e.text,
    start: ms(e.start),
    end: ms(e.end),
    words: e.words.map((w) => ({ word: w.word, start: ms(w.start), end: ms(w.end) })),
  };
}

/**
 * Cuts mono samples into pieces of exactly `n` (the remainder held for the next input; the
 * last, shorter piece flushed at the end), whatever sizes they arrive in.
 */
function rechunk(n: number): OperatorFunction<Float32Array, Float32Array> {
  return (source) =>
    new Observable<Float32Array>((subscriber) => {
      let held = new Float32Array(0);
      return source.subscribe({
        next(samples) {
          let all = samples;
          if (held.length > 0) {
            all = new Float32Array(held.length + samples.length);
            all.set(held);
            all.set(samples, held.length);
          }
          let at = 0;
          for (; at + n <= all.length; at += n) subscriber.next(all.slice(at, at + n));
          held = all.slice(at);
        },
        error(err: unknown) {
          subscriber.error(err);
        },
        complete() {
          if (held.length > 0) subscriber.next(held);
          subscriber.complete();
        },
      });
    });
}

/** The audio as 16 kHz mono samples, and its length in seconds when known (a file). */
async function openAudio(
  file: string,
  io: TranscribeIo,
): Promise<{ samples: Observable<Float32Array>; seconds?: number }> {
  if (file === '-') {
    if (io.stdin.isTTY)
      throw new BadInputError(
        'stdin is a terminal: pipe raw 16 kHz s16le mono PCM into it (e.g. from arecord or ffmpeg)',
        { file: '<stdin>' },
      );
    return {
      samples: from(io.stdin).pipe(decodePcm({ encoding: 's16le', channels: 1, source: '<stdin>' })),
    };
  }
  try {
    const audio = await loadWav(file, { sampleRate: SAMPLE_RATE });
    return { samples: from([audio.samples]), seconds: audio.duration };
  } catch (err) {
    // "expected 'RIFF'" is the format's word for it; say what it means first.
    if (err instanceof BadMagicError) {
      const detail = err.message.startsWith(`${file}, `) ? err.message.slice(file.length + 2) : err.message;
      throw new BadMagicError(`not a WAV file (${detail})`, { file });
    }
    throw err;
  }
}

/** Writes partial results as they change: a redrawn line on a terminal, else lines. */
class PartialWriter {
  private drawn = false;

  constructor(
    private readonly out: (text: string) => void,
    private readonly io: TranscribeIo,
    private readonly json: boolean,
  ) {}

  partial(e: TranscriptEvent): void {
    if (this.json) {
      this.io.stderr.write(
        `${JSON.stringify({ type: 'partial', text: e.text, start: ms(e.start), end: ms(e.end) })}\n`,
      );
    } else if (this.io.stdoutIsTTY) {
      const width = Math.max(10, (this.io.columns ?? 80) - 1);
      const text = e.text.length > width ? `…${e.text.slice(e.text.length - width + 1)}` : e.text;
      this.out(`\r\x1b[K${text}`);
      this.drawn = true;
    } else this.out(`partial: ${e.text}\n`);
  }

  /** Clears a redrawn line before a final line is written. */
  clear(): void {
    if (this.drawn) this.out('\r\x1b[K');
    this.drawn = false;
  }
}

/**
 * `rwkv-streams transcribe FILE.wav`: speech to text with the speech model we ship (or
 * --model), one line per utterance as the endpoint rules split them; --json prints one
 * segment object a line with word times; `-` reads raw 16 kHz s16le mono PCM from stdin as
 * it arrives. Files and stdin alike are decoded by transducer beam search (width 4) with the
 * model's word lexicon (`words.lex` or `words.tsv` beside it) unless --method says otherwise: on the shipped
 * model's held-out sets 11.8% / 7.7% WER against 18.5% / 12.7% for transducer greedy, the
 * library's default (bench/speech/heldout-2026-12-07-run18-beam4.txt); --leading-silence S starts each stream after S
 * seconds of silence (it helped earlier weights on clean audio that starts with speech; the
 * shipped ones read as well without it). `io` replaces stdin/stderr in tests.
 */
export function addTranscribeCommand(program: Command, out: (text: string) => void, io?: TranscribeIo): void {
  program
    .command('transcribe')
    .description(
      'transcribe speech: a WAV file, or raw 16 kHz s16le mono PCM on stdin (-), one line per utterance',
    )
    .argument('<file>', 'WAV file (any rate, channels mixed to mono), or - for raw PCM on stdin')
    .option(
      '--model <path>',
      'speech model: a folder holding model.safetensors, or the file (default: models/rwkv-speech-en-synth)',
    )
    .option('--json', 'one JSON object a line per utterance: {text, start, end, words: [{word, start, end}]}')
    .option('--partials', 'also show partial results as they change (on stderr with --json)')
    .addOption(
      new Option(
        '--method <method>',
        "decoding method (the beam searches use the model's word lexicon; transducer-greedy is faster, less accurate)",
      )
        .choices(['ctc-greedy', 'ctc-beam', 'transducer-greedy', 'transducer-beam'])
        .default('transducer-beam'),
    )
    .option(
      '--lexicon <file|none>',
      "the beam searches' word language model: a binary lexicon (rwkv-streams lexicon pack), or word<TAB>count lines with word pairs from NAME.bigrams.tsv.gz and word triples from NAME.trigrams.tsv.gz beside it when there (default: words.lex, else words.tsv, beside the model, when there)",
    )
    .option(
      '--lm-scale <x>',
      "weight of the word lexicon against the model's scores (default 0.3; 0.6 with --method ctc-beam; the speech model card has readings at other weights)",
      nonNegativeNumber('--lm-scale'),
    )
    .option(
      '--word-bonus <x>',
      'added to a hypothesis for each word it completes (default -0.5: a penalty; -1 with --method ctc-beam)',
      finiteNumber('--word-bonus'),
    )
    .option(
      '--beam <n>',
      'hypotheses the beam searches keep (default 4; 8 with --method ctc-beam; 8 and 16 are more accurate and slower: see the speech model card)',
      positiveInt('--beam'),
    )
    .option(
      '--leading-silence <seconds>',
      'silence the model has heard before the audio starts (default 0; 0.5 helped models trained only on utterances after a pause read clean audio whose speech starts at once, and hurt them in noise; the shipped model reads as well without it)',
      nonNegativeNumber('--leading-silence'),
    )
    .option('--threads <n>', 'CPU threads (default: onnxruntime decides)', positiveInt('--threads'))
    .addOption(deviceOption())
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  rwkv-streams transcribe packages/audio/fixtures/speech/flite-kal.wav',
        "  rwkv-streams transcribe talk.wav                              # beam search, the model's word list",
        '  rwkv-streams transcribe talk.wav --method transducer-greedy   # faster, less accurate',
        '  rwkv-streams transcribe talk.wav --beam 16 --lm-scale 0.4     # more accurate, slower',
        '  rwkv-streams transcribe talk.wav --json > talk.jsonl',
        '  arecord -f S16_LE -r 16000 -c 1 -t raw | rwkv-streams transcribe - --partials',
        '  ffmpeg -loglevel error -i talk.mp3 -f s16le -ar 16000 -ac 1 - | rwkv-streams transcribe -',
        '',
        "The default is transducer beam search (4 hypotheses) with the model's word list (words.lex",
        "or words.tsv beside it, loaded first): on the shipped model's held-out voices / sentences 11.8% / 7.7%",
        'word errors, against 18.5% / 12.7% with transducer greedy (see its model card).',
        '',
        'Times are seconds from the start of the audio. An utterance ends after 1.2 s without a',
        'new symbol, or at 20 s. Files of 30 s or more show a progress bar on stderr when it is',
        'a terminal (not with --partials, which show progress themselves).',
      ].join('\n'),
    )
    .action(async (file: string, flags: TranscribeFlags) => {
      const streams = io ?? processIo();
      const modelPath = flags.model ?? SHIPPED_SPEECH_MODEL;
      if (flags.model === undefined && !existsSync(modelPath))
        throw new FileNotFoundError('the shipped speech model is not there; give --model PATH', {
          file: modelPath,
        });
      // The audio first: a bad file is reported before the model is compiled.
      const audio = await openAudio(file, streams);
      await useDevice(flags.device);
      const model = await loadSpeechModel(modelPath, {
        device: flags.device,
        ...(flags.threads ? { threads: flags.threads } : {}),
      });
      try {
        const beamSearch = flags.method === 'transducer-beam' || flags.method === 'ctc-beam';
        const lexicon = beamSearch
          ? openLexicon(
              flags.lexicon,
              modelPath,
              lexiconWeightsFor(flags.method, { scale: flags.lmScale, wordBonus: flags.wordBonus }),
            )
          : undefined;
        const recognizer = new SpeechRecognizer(model, {
          decodingMethod: flags.method,
          endpoint: true,
          ...(lexicon ? { lexicon } : {}),
          ...(flags.beam ? { beam: flags.beam } : {}),
          ...(flags.leadingSilence !== undefined ? { leadingSilence: flags.leadingSilence } : {}),
        });
        const partials = new PartialWriter(out, streams, flags.json === true);
        // Not with --partials: they show the progress themselves.
        const progress = startProgress({
          total: audio.seconds ?? 0,
          label: `transcribe ${basename(file)}`,
          unit: 's',
          decimals: 1,
          stream: streams.stderr,
          stdoutIsTTY: streams.stdoutIsTTY,
          show: audio.seconds !== undefined && audio.seconds >= PROGRESS_MIN_SECONDS && !flags.partials,
        });
        try {
          await lastValueFrom(
            audio.samples.pipe(
              rechunk(TRANSCRIBE_CHUNK_SAMPLES),
              transcribe({ recognizer, partials: true }),
              tap((e) => {
                progress.update(Math.min(e.end, audio.seconds ?? e.end));
                if (e.type === 'partial') {
                  if (flags.partials) partials.partial(e);
                  return;
                }
                partials.clear();
                const line = flags.json ? `${JSON.stringify(segmentOf(e))}\n` : `${e.text}\n`;
                progress.print(() => out(line));
              }),
            ),
            { defaultValue: undefined },
          );
          partials.clear();
          if (audio.seconds !== undefined) progress.update(audio.seconds);
        } finally {
          progress.stop();
        }
      } finally {
        await model.dispose();
      }
    });
}
