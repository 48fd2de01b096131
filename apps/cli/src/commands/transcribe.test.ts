import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  CTC_LEXICON_WEIGHTS,
  type DecodingMethod,
  loadSpeechModel,
  loadWav,
  randomSpeechWeights,
  SpeechRecognizer,
  transcribe,
  WordLexicon,
} from '@rwkv-streams/audio';
import { RwkvError, writeSafetensorsFile } from '@rwkv-streams/core';
import { Command } from 'commander';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../test/run-cli.js';
import { ExitCode } from '../main.js';
import {
  addTranscribeCommand,
  SHIPPED_SPEECH_MODEL,
  TRANSCRIBE_CHUNK_SAMPLES,
  type TranscribeIo,
  type TranscriptSegment,
} from './transcribe.js';

/**
 * `rwkv-streams transcribe` over a small random speech model written to a temp dir (so the
 * tests pin what the command does, not how well a model recognizes): its lines are the
 * library's final results, in every output mode and decoding method, from a file and from
 * stdin, and without --method those of transducer beam search with the model's words.tsv;
 * bad input is a typed error naming the file with exit code 1. One test runs the shipped
 * model, asserting only structure (11.8% / 7.7% WER on held-out voices / sentences
 * with the default decoding, its model card).
 */
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const speech = join(root, 'packages/audio/fixtures/speech/espeak-en-gb-scotland.wav');
const shippedFile = join(SHIPPED_SPEECH_MODEL, 'model.safetensors');
const haveShipped = existsSync(shippedFile);

const dir = mkdtempSync(join(tmpdir(), 'rwkv-transcribe-'));
const modelDir = join(dir, 'random-speech');
const modelFile = join(modelDir, 'model.safetensors');

beforeAll(() => {
  const { tensors } = randomSpeechWeights(
    { encoderLayers: 1, encoderDim: 64, predictorLayers: 1, predictorDim: 64, joinerDim: 32, headSize: 32 },
    9,
  );
  mkdirSync(modelDir);
  writeSafetensorsFile(modelFile, tensors, { metadata: { format: 'rwkv-streams-speech' } });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs the whole CLI; stdout and stderr as text. */
const run = runCli;

/** Runs the transcribe command alone with stdin, stderr and the terminal replaced (errors are thrown). */
async function runWith(io: Partial<TranscribeIo>, ...args: string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  const program = new Command('rwkv-streams').exitOverride();
  addTranscribeCommand(
    program,
    (s) => {
      out += s;
    },
    {
      stdin: Readable.from([]),
      stdoutIsTTY: false,
      ...io,
      stderr: {
        write: (s: string) => {
          err += s;
          return true;
        },
        isTTY: io.stderr?.isTTY ?? false,
      },
    },
  );
  await program.parseAsync(['node', 'rwkv-streams', 'transcribe', ...args]);
  return { out, err };
}

/**
 * A model folder `name` under the test's temp dir: the random weights with a `words.tsv` of
 * `words` beside them; returns the folder and the word list's path.
 */
function modelWithWords(name: string, words: string): { folder: string; words: string } {
  const folder = join(dir, name);
  mkdirSync(folder);
  copyFileSync(modelFile, join(folder, 'model.safetensors'));
  writeFileSync(join(folder, 'words.tsv'), words);
  return { folder, words: join(folder, 'words.tsv') };
}

/**
 * The library's final texts for 16 kHz samples fed as the command feeds them (the random
 * model; with `lexicon`, the beam searches fuse that word list).
 */
async function libraryFinals(
  samples: Float32Array,
  method: DecodingMethod,
  options: { beam?: number; lexicon?: WordLexicon; leadingSilence?: number } = {},
): Promise<string[]> {
  const model = await loadSpeechModel(modelDir);
  try {
    const recognizer = new SpeechRecognizer(model, {
      decodingMethod: method,
      endpoint: true,
      ...(options.beam ? { beam: options.beam } : {}),
      ...(options.lexicon ? { lexicon: options.lexicon } : {}),
      ...(options.leadingSilence !== undefined ? { leadingSilence: options.leadingSilence } : {}),
    });
    const pieces: Float32Array[] = [];
    for (let i = 0; i < samples.length; i += TRANSCRIBE_CHUNK_SAMPLES)
      pieces.push(samples.slice(i, i + TRANSCRIBE_CHUNK_SAMPLES));
    const events = await lastValueFrom(
      from(pieces).pipe(transcribe({ recognizer, partials: false }), toArray()),
    );
    return events.map((e) => e.text);
  } finally {
    await model.dispose();
  }
}

/** A 16-bit mono WAV file of `samples` in [-1, 1). */
function writeWav(path: string, samples: Float32Array, rate = 16000): void {
  const b = Buffer.alloc(44 + 2 * samples.length);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + 2 * samples.length, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(2 * samples.length, 40);
  samples.forEach((x, i) => {
    b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(x * 32768))), 44 + 2 * i);
  });
  writeFileSync(path, b);
}

/** The samples as raw s16le bytes. */
function s16le(samples: Float32Array): Buffer {
  const b = Buffer.alloc(2 * samples.length);
  samples.forEach((x, i) => {
    b.writeInt16LE(Math.round(x * 32768), 2 * i);
  });
  return b;
}

const lines = (text: string) => text.split('\n').filter((l) => l.length > 0);

describe('rwkv-streams transcribe (random model)', () => {
  it('prints the final results one line per utterance; --json the same as segments with word times', async () => {
    const expected = await libraryFinals((await loadWav(speech)).samples, 'ctc-greedy');
    expect(expected.length).toBeGreaterThan(0);
    const plain = await run('transcribe', speech, '--model', modelDir, '--method', 'ctc-greedy');
    expect(plain.code).toBe(ExitCode.ok);
    expect(plain.out).toBe(expected.map((t) => `${t}\n`).join(''));
    expect(plain.err).toBe('');

    // The file itself as --model works as its folder does.
    const json = await run('transcribe', speech, '--model', modelFile, '--method', 'ctc-greedy', '--json');
    expect(json.code).toBe(ExitCode.ok);
    const segments = lines(json.out).map((l) => JSON.parse(l) as TranscriptSegment);
    expect(segments.map((s) => s.text)).toEqual(expected);
    for (const s of segments) {
      expect(Object.keys(s).sort()).toEqual(['end', 'start', 'text', 'words']);
      expect(s.start).toBeGreaterThanOrEqual(0);
      expect(s.end).toBeGreaterThan(s.start);
      expect(s.end).toBeLessThanOrEqual(2.4); // the file is 2.34 s (the last step padded)
      expect(s.words.map((w) => w.word).join(' ')).toBe(s.text.split(/\s+/).join(' '));
      for (const w of s.words) {
        expect(Object.keys(w).sort()).toEqual(['end', 'start', 'word']);
        expect(w.start).toBeGreaterThanOrEqual(s.start);
        expect(w.end).toBeGreaterThan(w.start);
        expect(w.end).toBeLessThanOrEqual(s.end);
      }
    }
  });

  it.each([
    'ctc-greedy',
    'ctc-beam',
    'transducer-greedy',
    'transducer-beam',
  ] as const)('--method %s gives the library result', async (method) => {
    const expected = await libraryFinals((await loadWav(speech)).samples, method);
    const r = await run('transcribe', speech, '--model', modelDir, '--method', method, '--threads', '1');
    expect(r.code).toBe(ExitCode.ok);
    expect(lines(r.out)).toEqual(expected);
  });

  it("without --method: transducer beam search, with the model's words.tsv when it has one, from a file and from stdin", async () => {
    const samples = (await loadWav(speech)).samples;
    const viaStdin = (...args: string[]) => runWith({ stdin: Readable.from([s16le(samples)]) }, '-', ...args);

    // The random model's folder has no words.tsv: the plain beam search. Greedy gives other
    // text on this file, so a CLI defaulting to greedy fails here.
    const beam = await libraryFinals(samples, 'transducer-beam');
    expect(beam.length).toBeGreaterThan(0);
    expect(beam).not.toEqual(await libraryFinals(samples, 'transducer-greedy'));
    const plain = await run('transcribe', speech, '--model', modelDir, '--threads', '1');
    expect(plain.code).toBe(ExitCode.ok);
    expect(lines(plain.out)).toEqual(beam);
    expect(lines((await viaStdin('--model', modelDir)).out)).toEqual(beam);

    // The same weights with a words.tsv beside them: the beam search with that lexicon, which
    // changes this file's result, so a CLI that left the lexicon out fails here.
    const { folder: withWords, words } = modelWithWords('random-speech-words', 'shh\t10\n');
    const expected = await libraryFinals(samples, 'transducer-beam', {
      lexicon: WordLexicon.fromFile(words),
    });
    expect(expected.length).toBeGreaterThan(0);
    expect(expected).not.toEqual(beam);
    const r = await run('transcribe', speech, '--model', withWords, '--threads', '1');
    expect(r.code).toBe(ExitCode.ok);
    expect(lines(r.out)).toEqual(expected);
    expect(lines((await viaStdin('--model', join(withWords, 'model.safetensors'))).out)).toEqual(expected);
    // --lexicon none and --method transducer-greedy still turn it off.
    expect(lines((await run('transcribe', speech, '--model', withWords, '--lexicon', 'none')).out)).toEqual(
      beam,
    );
    expect(
      lines((await run('transcribe', speech, '--model', withWords, '--method', 'transducer-greedy')).out),
    ).toEqual(await libraryFinals(samples, 'transducer-greedy'));
  });

  it("--beam sets the beam searches' width", async () => {
    const samples = (await loadWav(speech)).samples;
    const expected = await libraryFinals(samples, 'transducer-beam', { beam: 8 });
    // the width changes this file's result, so a CLI that dropped the option would fail here
    expect(expected).not.toEqual(await libraryFinals(samples, 'transducer-beam'));
    const r = await run(
      'transcribe',
      speech,
      '--model',
      modelDir,
      '--method',
      'transducer-beam',
      '--beam',
      '8',
      '--threads',
      '1',
    );
    expect(r.code).toBe(ExitCode.ok);
    expect(lines(r.out)).toEqual(expected);
  });

  it("--lm-scale and --word-bonus set the word lexicon's weights; bad values are usage errors", async () => {
    const samples = (await loadWav(speech)).samples;
    const { folder: withWords, words } = modelWithWords('random-speech-weights', 'shh\t10\nhush\t3\n');
    const args = ['transcribe', speech, '--model', withWords, '--threads', '1'];
    // each case against the lexicon without its last flag: scale 0 leaves the plain beam
    // search's text, and with it, a large bonus splits this file's one word into more
    for (const [flags, weights, without] of [
      [['--lm-scale', '0'], { scale: 0 }, {}],
      [['--lm-scale', '0', '--word-bonus', '40'], { scale: 0, wordBonus: 40 }, { scale: 0 }],
    ] as const) {
      const expected = await libraryFinals(samples, 'transducer-beam', {
        lexicon: WordLexicon.fromFile(words, weights),
      });
      // the flag changes this file's result, so a CLI that dropped it fails here
      expect(expected).not.toEqual(
        await libraryFinals(samples, 'transducer-beam', { lexicon: WordLexicon.fromFile(words, without) }),
      );
      const r = await run(...args, ...flags);
      expect(r.code).toBe(ExitCode.ok);
      expect(lines(r.out)).toEqual(expected);
    }
    for (const bad of [
      ['--lm-scale', '-1'],
      ['--lm-scale', 'x'],
      ['--word-bonus', ''],
      ['--word-bonus', 'Infinity'],
    ])
      expect((await run(...args, ...bad)).code).toBe(ExitCode.usage);
  });

  it('--method ctc-beam weighs the word lexicon with CTC_LEXICON_WEIGHTS', async () => {
    const samples = (await loadWav(speech)).samples;
    const { folder: withWords, words } = modelWithWords('random-speech-ctc-words', 'shh\t10\nhush\t3\n');
    const expected = await libraryFinals(samples, 'ctc-beam', {
      lexicon: WordLexicon.fromFile(words, CTC_LEXICON_WEIGHTS),
    });
    // the weights change this file's result, so a CLI that kept the lexicon's defaults fails here
    expect(expected).not.toEqual(
      await libraryFinals(samples, 'ctc-beam', { lexicon: WordLexicon.fromFile(words) }),
    );
    const r = await run('transcribe', speech, '--model', withWords, '--method', 'ctc-beam', '--threads', '1');
    expect(r.code).toBe(ExitCode.ok);
    expect(lines(r.out)).toEqual(expected);
  });

  it('--leading-silence sets the silence streams start after; a bad value is a usage error', async () => {
    const samples = (await loadWav(speech)).samples;
    const expected = await libraryFinals(samples, 'transducer-greedy', { leadingSilence: 0.5 });
    // the start state changes this file's result, so a CLI that dropped the option fails here
    expect(expected).not.toEqual(await libraryFinals(samples, 'transducer-greedy'));
    const args = ['transcribe', speech, '--model', modelDir, '--method', 'transducer-greedy'];
    const r = await run(...args, '--leading-silence', '0.5');
    expect(r.code).toBe(ExitCode.ok);
    expect(lines(r.out)).toEqual(expected);
    for (const bad of ['-1', 'abc', ''])
      expect((await run(...args, '--leading-silence', bad)).code).toBe(ExitCode.usage);
  });

  it('a long file: the endpoint rules split it into utterances; a progress bar only when stderr is a terminal', async () => {
    const one = (await loadWav(speech)).samples;
    const long = new Float32Array(16000 * 45);
    for (let at = 0; at < long.length; at += one.length) long.set(one.subarray(0, long.length - at), at);
    const file = join(dir, 'long.wav');
    writeWav(file, long);
    const expected = await libraryFinals((await loadWav(file)).samples, 'ctc-greedy');

    const tty = await runWith(
      { stderr: { write: () => true, isTTY: true } },
      file,
      '--model',
      modelDir,
      '--method',
      'ctc-greedy',
      '--json',
    );
    const segments = lines(tty.out).map((l) => JSON.parse(l) as TranscriptSegment);
    expect(segments.map((s) => s.text)).toEqual(expected);
    // 45 s with at most 20 s an utterance (rule 3, checked every 160 ms chunk): 3 or more.
    expect(segments.length).toBeGreaterThanOrEqual(3);
    segments.forEach((s, i) => {
      expect(s.end - s.start).toBeLessThanOrEqual(20.2);
      if (i > 0) expect(s.start).toBeGreaterThanOrEqual(segments[i - 1]!.end);
    });
    // A progress bar (cli-progress) redrawn on one line of the terminal's stderr: it ends
    // full, then its line is cleared, leaving the terminal as it was.
    expect(tty.err.startsWith(`\x1b7\x1b[1Gtranscribe long.wav [${'-'.repeat(24)}] 0% | 0.0/45.0 s`)).toBe(
      true,
    );
    expect(tty.err).toContain('transcribe long.wav [========================] 100% | 45.0/45.0 s');
    expect(tty.err.endsWith('\x1b8\x1b[1G\x1b[2K')).toBe(true);
    expect(tty.err).not.toContain('\n');

    const piped = await runWith({}, file, '--model', modelDir, '--method', 'ctc-greedy', '--json');
    expect(piped.out).toBe(tty.out);
    expect(piped.err).toBe('');
  });

  it('- reads raw 16 kHz s16le PCM from stdin as it arrives, in chunks of any size, as the file gives', async () => {
    const samples = (await loadWav(speech)).samples;
    const bytes = s16le(samples);
    const file = await run('transcribe', speech, '--model', modelDir, '--json');
    // Odd sizes: samples split between chunks.
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const n = [4097, 333, 10001, 1][i % 4]!;
      chunks.push(bytes.subarray(at, at + n));
      at += n;
    }
    const live = await runWith({ stdin: Readable.from(chunks) }, '-', '--model', modelDir, '--json');
    expect(live.out).toBe(file.out);
    expect(lines(live.out).length).toBeGreaterThan(0);
  });

  it('--partials: lines before each final when piped, a redrawn line on a terminal, JSON on stderr with --json', async () => {
    const args = [speech, '--model', modelDir, '--method', 'ctc-greedy', '--partials'];
    const finals = await libraryFinals((await loadWav(speech)).samples, 'ctc-greedy');

    const piped = await runWith({}, ...args);
    const out = lines(piped.out);
    expect(out.filter((l) => !l.startsWith('partial: '))).toEqual(finals);
    expect(out[0]!.startsWith('partial: ')).toBe(true);

    const tty = await runWith({ stdoutIsTTY: true, columns: 40 }, ...args);
    expect(tty.out).toContain('\r\x1b[K');
    // What a terminal shows at the end: each final on its own line, the partial line erased.
    const shown = tty.out.split('\n').map((l) => l.split('\r\x1b[K').at(-1));
    expect(shown.filter((l) => l)).toEqual(finals);
    // Every redrawn partial fits the 40 columns (cut at its start).
    for (const line of tty.out.split('\n'))
      for (const drawn of line.split('\r\x1b[K').slice(0, -1)) expect(drawn.length).toBeLessThanOrEqual(39);

    const json = await runWith({}, ...args, '--json');
    expect(lines(json.out).map((l) => (JSON.parse(l) as TranscriptSegment).text)).toEqual(finals);
    const partials = lines(json.err).map((l) => JSON.parse(l) as { type: string; text: string });
    expect(partials.length).toBeGreaterThan(0);
    expect(partials.every((p) => p.type === 'partial')).toBe(true);
  });

  it('bad input names the file and the problem, exit code 1; usage errors exit 2', async () => {
    const missing = join(dir, 'no-such.wav');
    let r = await run('transcribe', missing, '--model', modelDir);
    expect(r.code).toBe(ExitCode.failure);
    expect(r.err).toMatch(/^rwkv-streams: FILE_NOT_FOUND: .*no-such\.wav: cannot read/);

    const text = join(dir, 'notes.wav');
    writeFileSync(text, 'these are notes, not audio\n');
    r = await run('transcribe', text, '--model', modelDir);
    expect(r.code).toBe(ExitCode.failure);
    expect(r.err).toMatch(
      /^rwkv-streams: BAD_MAGIC: .*notes\.wav: not a WAV file \(field 'RIFF', offset 0: expected 'RIFF', found "thes"\)\n$/,
    );

    const cut = join(dir, 'cut.wav');
    const wav = readFileSync(speech);
    writeFileSync(cut, wav.subarray(0, 44 + 1000));
    r = await run('transcribe', cut, '--model', modelDir);
    expect(r.code).toBe(ExitCode.failure);
    expect(r.err).toMatch(/^rwkv-streams: TRUNCATED_FILE: .*cut\.wav/);

    const empty = join(dir, 'empty.wav');
    writeFileSync(empty, '');
    r = await run('transcribe', empty, '--model', modelDir);
    expect(r.code).toBe(ExitCode.failure);
    expect(r.err).toMatch(/^rwkv-streams: TRUNCATED_FILE: .*empty\.wav.*12-byte RIFF header/);

    r = await run('transcribe', speech, '--model', join(dir, 'no-model'));
    expect(r.code).toBe(ExitCode.failure);
    expect(r.err).toMatch(/no-model/);

    const beam = ['transcribe', speech, '--model', modelDir, '--method', 'transducer-beam'];
    r = await run(...beam, '--lexicon', join(dir, 'no-words.tsv'));
    expect(r.code).toBe(ExitCode.failure);
    expect(r.err).toMatch(/FILE_NOT_FOUND: .*no-words\.tsv/);
    writeFileSync(join(dir, 'bad-words.tsv'), 'the\t10\ntwo words\t3\n');
    r = await run(...beam, '--lexicon', join(dir, 'bad-words.tsv'));
    expect(r.code).toBe(ExitCode.failure);
    expect(r.err).toMatch(/bad-words\.tsv.*line 2|line 2.*bad-words\.tsv/);
    writeFileSync(join(dir, 'words.tsv'), 'the\t10\ncat\t3\n');
    expect((await run(...beam, '--lexicon', join(dir, 'words.tsv'))).code).toBe(ExitCode.ok);
    expect((await run(...beam, '--lexicon', 'none')).code).toBe(ExitCode.ok);

    expect((await run('transcribe')).code).toBe(ExitCode.usage);
    expect((await run('transcribe', speech, '--method', 'guess')).code).toBe(ExitCode.usage);
    expect((await run('transcribe', speech, '--threads', '0')).code).toBe(ExitCode.usage);
    expect((await run('transcribe', speech, '--beam', '0')).code).toBe(ExitCode.usage);
    expect((await run('transcribe', speech, '--device', 'tpu')).code).toBe(ExitCode.usage);
  });

  it('stdin: a cut sample at the end and a terminal instead of a pipe are typed errors naming <stdin>', async () => {
    const odd = Readable.from([Buffer.from([1, 2, 3])]);
    const cut = runWith({ stdin: odd }, '-', '--model', modelDir);
    await expect(cut).rejects.toBeInstanceOf(RwkvError);
    await expect(cut).rejects.toMatchObject({ code: 'TRUNCATED_FILE', file: '<stdin>' });
    const terminal = Object.assign(Readable.from([]), { isTTY: true });
    await expect(runWith({ stdin: terminal }, '-', '--model', modelDir)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      file: '<stdin>',
    });
  });

  it('--help shows examples and the default method', async () => {
    const r = await run('transcribe', '--help');
    expect(r.code).toBe(ExitCode.ok);
    expect(r.out).toContain('Examples:');
    expect(r.out).toContain('rwkv-streams transcribe - --partials');
    expect(r.out).toContain('--method transducer-greedy');
    expect(r.out.replace(/\s+/g, ' ')).toContain('default: "transducer-beam"');
  });
});

describe('rwkv-streams transcribe (shipped model)', () => {
  it.skipIf(!haveShipped)(
    `the shipped model by default: text and word times for the speech fixture${haveShipped ? '' : ` (skipped: ${shippedFile} is absent)`}`,
    async () => {
      // Transducer beam search with the model's word lexicon; it makes errors (11.8% / 7.7%
      // WER held out): structure only, never the exact words.
      const r = await run('transcribe', speech, '--json');
      expect(r.code).toBe(ExitCode.ok);
      const segments = lines(r.out).map((l) => JSON.parse(l) as TranscriptSegment);
      expect(segments.length).toBeGreaterThan(0);
      expect(
        segments
          .map((s) => s.text)
          .join(' ')
          .trim().length,
      ).toBeGreaterThan(0);
      expect(segments.flatMap((s) => s.words).length).toBeGreaterThan(0);
    },
  );
});
