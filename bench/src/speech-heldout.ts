/**
 * The shipped speech model on the held-out sets, through rwkv-streams: word error rate per
 * held-out voice and in total, for CTC greedy and transducer greedy decoding, and the voice-
 * activity head's frame accuracy beside the WebRTC VAD's on the same noisy audio.
 *
 *   eval "$(bash training/audio/unpack-debs.sh .gpu/speech/debs /tmp/speech-tts)"
 *   python3 training/audio/synthesize.py --text .gpu/speech/text --out /tmp/heldout --split test-voices
 *   python3 training/audio/synthesize.py --text .gpu/speech/text --out /tmp/heldout --split test-sentences
 *   node bench/dist/speech-heldout.js /tmp/heldout [--limit N] [--vad-utts N] [--threads N]
 *
 * (fetch-debs.sh and prepare-text.sh make .gpu/speech; the renders are deterministic, so these
 * are the utterances train_asr.py evaluated on the GPU machine.)
 *
 * Word error rate: each utterance (with --wer-snr DB: with seeded pink noise added at DB dB SNR
 * against its speech frames) is encoded whole (sequence mode; chunked streaming gives the
 * same encoder outputs, see the recognizer tests), then decoded by each of --decoders: `ctc`
 * (CTC greedy), `ctc-beam` (CTC prefix beam search, --beam), `ctc-beam-lm` (the same with the
 * word lexicon fused, one decoder per --ctc-lm setting, default CTC_LEXICON_WEIGHTS; before
 * 2026-12-07 it took the first --lm setting), `greedy1` / `greedy3` (transducer greedy, 1
 * or up to 3 symbols a step), `beam` (transducer beam search, --beam, up to 3 symbols a step),
 * `beam-lm` (the same with the word lexicon fused: --lexicon, default words.tsv beside the
 * model; --lm lists settings "scale:oovLogProb:wordBonus", comma-separated, one decoder each),
 * `stream` (the path of the
 * CLI's `transcribe`: the samples in 160 ms chunks through a `SpeechRecognizer` with transducer
 * beam search, --beam, the lexicon at its default weights and the endpoint rules, the finals
 * joined; what a user gets, where the others decode each utterance whole).
 * Every decoder starts from the encoder state after --lead seconds of silence (default: the
 * recognizer's, DEFAULT_LEADING_SILENCE, 0: a zero state; 0.5 was the default from the morning
 * to the evening of 2026-12-05).
 * --sets names the folders under DIR (default test-voices,test-sentences).
 * --hypotheses FILE writes one JSON line an utterance (set, voice key, reference, each
 * decoder's transcript), for error analysis.
 *
 * Voice activity: each of the first --vad-utts utterances of each set gets 0.5 s of silence
 * on both sides, then pink noise at --snr dB against its speech power (and once with no
 * noise); reference labels per 10 ms frame come from the clean utterance (`activityLabels`,
 * the definition the head was trained on). The RWKV head (`RwkvVad`, 40 ms steps) and the
 * WebRTC VAD (30 ms frames, modes 0-3) each label every 10 ms frame with the decision of
 * the step or frame that contains its centre; accuracy = frames agreeing / frames. The
 * RWKV head starts from the state after --lead seconds of silence, as the recognizer does.
 */
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  activityLabels,
  CharVocabulary,
  CTC_LEXICON_WEIGHTS,
  CtcGreedyDecoder,
  CtcPrefixBeamSearch,
  computeFbank,
  DEFAULT_LEADING_SILENCE,
  encoderStateAfterSilence,
  findLexiconBeside,
  loadSpeechModel,
  RwkvVad,
  SpeechRecognizer,
  TransducerGreedySearch,
  TransducerModifiedBeamSearch,
  transcribe,
  WebRtcVad,
  WordLexicon,
  wordErrors,
} from '@rwkv-streams/audio';
import { SeededRandom } from '@rwkv-streams/core';
import { filter, from, lastValueFrom, map, toArray } from 'rxjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: 'models/rwkv-speech-en-synth' },
    limit: { type: 'string', default: '0' },
    'vad-utts': { type: 'string', default: '200' },
    snr: { type: 'string', default: '10' },
    'wer-snr': { type: 'string', default: '' },
    threads: { type: 'string', default: '2' },
    sets: { type: 'string', default: 'test-voices,test-sentences' },
    decoders: { type: 'string', default: 'ctc,greedy1,greedy3' },
    lexicon: { type: 'string', default: '' },
    lm: { type: 'string', default: '0.3:-30:-0.5' },
    'ctc-lm': {
      type: 'string',
      default: `${CTC_LEXICON_WEIGHTS.scale}:${CTC_LEXICON_WEIGHTS.oovLogProb}:${CTC_LEXICON_WEIGHTS.wordBonus}`,
    },
    beam: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
    hypotheses: { type: 'string', default: '' },
    lead: { type: 'string', default: String(DEFAULT_LEADING_SILENCE) },
  },
});
const root = positionals[0];
if (!root)
  throw new Error('usage: speech-heldout.js <folder with test-voices/ and test-sentences/> [--limit N]');

interface Utterance {
  readonly text: string;
  readonly key: string;
  readonly samples: Float32Array;
}

/** int16 samples of a synthesize.py shard (.npy, little-endian '<i2', 1-D). */
function readNpyInt16(path: string): Int16Array {
  const b = readFileSync(path);
  if (b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const headerLen = b[8]! | (b[9]! << 8);
  const header = b.toString('latin1', 10, 10 + headerLen);
  if (!header.includes("'<i2'")) throw new Error(`${path}: expected int16 samples, header ${header.trim()}`);
  const start = 10 + headerLen;
  const copy = b.buffer.slice(b.byteOffset + start, b.byteOffset + b.byteLength);
  return new Int16Array(copy);
}

function readSplit(dir: string, split: string, limit: number): Utterance[] {
  const folder = join(dir, split);
  const out: { text: string; key: string; pcm: Int16Array }[] = [];
  for (const f of readdirSync(folder)
    .filter((n) => /^shard-\d+\.json$/.test(n))
    .sort()) {
    const meta = JSON.parse(readFileSync(join(folder, f), 'utf8')) as {
      utts: {
        text: string;
        engine: string;
        voice: string;
        variant: string;
        offset: number;
        length: number;
      }[];
    };
    const pcm = readNpyInt16(join(folder, f.replace('.json', '.npy')));
    for (const u of meta.utts) {
      const key = split === 'test-voices' ? `${u.engine}:${u.variant || u.voice}` : 'all';
      out.push({ text: u.text, key, pcm: pcm.subarray(u.offset, u.offset + u.length) });
    }
  }
  // Converted after the choice, in a plain loop: Float32Array.from(int16s, map) took 17 s
  // for the 1.46 h of the held-out voices (the iterator path), a loop about 0.1 s.
  const toUtterance = ({ text, key, pcm }: (typeof out)[number]): Utterance => {
    const samples = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i]! / 32768;
    return { text, key, samples };
  };
  if (limit > 0) {
    // an even spread over the set (every held-out voice present), not its first shard
    const step = out.length / limit;
    return Array.from({ length: Math.min(limit, out.length) }, (_, i) =>
      toUtterance(out[Math.floor(i * step)]!),
    );
  }
  return out.map(toUtterance);
}

const model = await loadSpeechModel(values.model, { threads: Number(values.threads) });
const { stack: S, featureDim: F, vocab: V } = model.config;
const vocab = new CharVocabulary();
const decode = (ids: readonly number[]): string => vocab.decode(ids).trim();

const lead = Number(values.lead);
const decoderNames = values.decoders.split(',');
const known = ['ctc', 'ctc-beam', 'ctc-beam-lm', 'greedy1', 'greedy3', 'beam', 'beam-lm', 'stream'];
for (const d of decoderNames)
  if (!known.includes(d)) throw new Error(`unknown decoder '${d}' (${known.join(', ')})`);
const lexiconPath = values.lexicon || findLexiconBeside(values.model) || join(values.model, 'words.tsv');
const beam = Number(values.beam);
const label: Record<string, string> = {
  ctc: 'CTC greedy',
  'ctc-beam': `CTC beam ${beam}`,
  greedy1: 'transducer greedy k=1',
  greedy3: 'transducer greedy k=3',
  beam: `transducer beam ${beam}, k=3`,
  stream: `streamed beam ${beam}+words`,
};
/** The CLI's samples per chunk (160 ms). */
const STREAM_CHUNK = 2560;
const streamRecognizer = decoderNames.includes('stream')
  ? new SpeechRecognizer(model, {
      decodingMethod: 'transducer-beam',
      beam,
      endpoint: true,
      leadingSilence: lead,
      lexicon: WordLexicon.fromFile(lexiconPath),
    })
  : undefined;

/** The utterance as the CLI transcribes it: 160 ms chunks, endpoints, the finals joined. */
async function transcribeStreamed(samples: Float32Array): Promise<string> {
  const chunks = Array.from({ length: Math.ceil(samples.length / STREAM_CHUNK) }, (_, i) =>
    samples.subarray(i * STREAM_CHUNK, (i + 1) * STREAM_CHUNK),
  );
  const finals = await lastValueFrom(
    from(chunks).pipe(
      transcribe({ recognizer: streamRecognizer!, partials: false }),
      filter((e) => e.type === 'final'),
      map((e) => e.text),
      toArray(),
    ),
  );
  return finals.filter((t) => t !== '').join(' ');
}
// beam-lm: one decoder per --lm setting "scale:oovLogProb:wordBonus" (comma-separated)
const lexicons = new Map<string, WordLexicon>();
/** The lexicon at an --lm setting "scale:oovLogProb:wordBonus". */
function lexiconAt(counts: WordLexicon, cfg: string): WordLexicon {
  const [scale, oov, bonus] = cfg.split(':').map(Number);
  return counts.withOptions({ scale: scale!, oovLogProb: oov!, wordBonus: bonus ?? 0 });
}
// read once for the CTC and the transducer searches
const lexiconFile =
  decoderNames.includes('beam-lm') || decoderNames.includes('ctc-beam-lm')
    ? WordLexicon.fromFile(lexiconPath)
    : undefined;
// ctc-beam-lm and beam-lm: one decoder each per --ctc-lm / --lm setting, named `<decoder> <setting>`
for (const base of ['ctc-beam-lm', 'beam-lm']) {
  if (!decoderNames.includes(base)) continue;
  decoderNames.splice(decoderNames.indexOf(base), 1);
  const counts = lexiconFile!;
  const parts = `${counts.bigramPairs > 0 ? '+pairs' : ''}${counts.trigramTriples > 0 ? '+triples' : ''}`;
  for (const cfg of (base === 'beam-lm' ? values.lm : values['ctc-lm']).split(',')) {
    const name = `${base} ${cfg}`;
    lexicons.set(name, lexiconAt(counts, cfg));
    label[name] = base === 'beam-lm' ? `+words${parts} ${cfg}` : `CTC beam ${beam}+words ${cfg}`;
    decoderNames.push(name);
  }
}

/** The utterance encoded whole, then decoded by each chosen decoder. */
async function transcribeWhole(samples: Float32Array): Promise<Record<string, string>> {
  const feats = computeFbank(samples);
  const frames = feats.length;
  const steps = Math.ceil(frames / S);
  const groups = new Float32Array(steps * S * F);
  // a last incomplete step repeats the last frame, as RecognizerStream.inputFinished does
  for (let j = 0; j < steps * S; j++) groups.set(feats[Math.min(j, frames - 1)]!, j * F);
  // from the state a recognizer stream starts from (the encoder after --lead s of silence)
  const r = await model.encode(groups, steps, await encoderStateAfterSilence(model, lead));
  const d = model.config.encoder.nEmbd;
  const out: Record<string, string> = {};
  for (const name of decoderNames) {
    if (name === 'stream') {
      out[name] = await transcribeStreamed(samples);
      continue;
    }
    if (name === 'ctc' || name.startsWith('ctc-beam')) {
      const lexicon = lexicons.get(name);
      const ctc =
        name === 'ctc'
          ? new CtcGreedyDecoder(V)
          : new CtcPrefixBeamSearch(V, { beam, ...(lexicon ? { lexicon } : {}) });
      ctc.accept({ data: r.ctcLogits, frames: steps * model.ctcFrames, vocab: V });
      out[name] = decode(ctc.result().map((x) => x.id));
      continue;
    }
    const search =
      name === 'greedy1' || name === 'greedy3'
        ? new TransducerGreedySearch(model.prediction, model.joiner, name === 'greedy1' ? 1 : 3)
        : new TransducerModifiedBeamSearch(model.prediction, model.joiner, {
            beam,
            maxSymbolsPerFrame: 3,
            ...(lexicons.has(name) ? { lexicon: lexicons.get(name)! } : {}),
          });
    await search.accept(r.encoderOut, steps, d);
    out[name] = decode(search.result().map((x) => x.id));
  }
  return out;
}

/** Pink noise (Paul Kellet's filter over seeded Gaussian noise), unit RMS. */
function pinkNoise(n: number, rng: SeededRandom): Float32Array {
  const out = new Float32Array(n);
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  let b3 = 0;
  let b4 = 0;
  let b5 = 0;
  let b6 = 0;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const u1 = Math.max(rng.uniform(), 1e-12);
    const w = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rng.uniform());
    b0 = 0.99886 * b0 + w * 0.0555179;
    b1 = 0.99332 * b1 + w * 0.0750759;
    b2 = 0.969 * b2 + w * 0.153852;
    b3 = 0.8665 * b3 + w * 0.3104856;
    b4 = 0.55 * b4 + w * 0.5329522;
    b5 = -0.7616 * b5 - w * 0.016898;
    const y = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
    b6 = w * 0.115926;
    out[i] = y;
    ss += y * y;
  }
  const rms = Math.sqrt(ss / n) || 1;
  for (let i = 0; i < n; i++) out[i]! /= rms;
  return out;
}

/**
 * `clean` with pink noise added at `snr` dB against the power of its speech frames (the
 * frames `labels`, its `activityLabels`, mark), clipped to [-1, 1].
 */
function withPinkNoise(
  clean: Float32Array,
  labels: Uint8Array,
  snr: number,
  rng: SeededRandom,
): Float32Array {
  let e = 0;
  let n = 0;
  for (let j = 0; j < labels.length; j++)
    if (labels[j])
      for (let i = j * 160; i < j * 160 + 160; i++) {
        e += clean[i]! * clean[i]!;
        n++;
      }
  const gain = Math.sqrt(e / Math.max(n, 1) / 10 ** (snr / 10));
  const noise = pinkNoise(clean.length, rng);
  const noisy = new Float32Array(clean.length); // a loop: Float32Array.from(array, map) is slow
  for (let i = 0; i < clean.length; i++) noisy[i] = Math.max(-1, Math.min(1, clean[i]! + gain * noise[i]!));
  return noisy;
}

if (values.hypotheses) writeFileSync(values.hypotheses, '');
const sets: Record<string, Utterance[]> = Object.fromEntries(
  values.sets.split(',').map((name) => [name, readSplit(root, name, Number(values.limit))]),
);

const report: Record<string, unknown> = {};
// --wer-snr: every utterance decoded with pink noise at that SNR (seeded: the same noise each run)
const werSnr = values['wer-snr'] === '' ? undefined : Number(values['wer-snr']);
if (werSnr !== undefined && !Number.isFinite(werSnr))
  throw new Error(`--wer-snr must be a number of dB, got '${values['wer-snr']}'`);
const werRng = new SeededRandom(2027);
if (werSnr !== undefined)
  console.log(`every utterance with pink noise at ${werSnr} dB SNR (against its speech frames)`);
const t0 = performance.now();
let audioSeconds = 0;
type Row = { edits: Record<string, number>; words: number; utts: number };
for (const [name, utts] of Object.entries(sets)) {
  const per = new Map<string, Row>();
  for (const u of utts) {
    audioSeconds += u.samples.length / 16000;
    const hyp = await transcribeWhole(
      werSnr === undefined ? u.samples : withPinkNoise(u.samples, activityLabels(u.samples), werSnr, werRng),
    );
    const row = per.get(u.key) ?? { edits: {}, words: 0, utts: 0 };
    for (const dn of decoderNames) row.edits[dn] = (row.edits[dn] ?? 0) + wordErrors(u.text, hyp[dn]!).edits;
    if (values.hypotheses)
      appendFileSync(
        values.hypotheses,
        `${JSON.stringify({ set: name, key: u.key, ref: u.text, ...hyp })}\n`,
      );
    row.words += wordErrors(u.text, '').words;
    row.utts++;
    per.set(u.key, row);
  }
  const total: Row = { edits: {}, words: 0, utts: 0 };
  console.log(
    `\n${name}: word error rate (%)`.padEnd(36) +
      ` utts  words ${decoderNames.map((dn) => label[dn]!.padStart(columnWidth(dn))).join('')}`,
  );
  for (const [key, r] of [...per].sort()) {
    total.words += r.words;
    total.utts += r.utts;
    for (const dn of decoderNames) total.edits[dn] = (total.edits[dn] ?? 0) + r.edits[dn]!;
    if (per.size > 1) print(key, r);
  }
  print('total', total);
  report[name] = { perVoice: Object.fromEntries(per), total };
}
const seconds = (performance.now() - t0) / 1000;
console.log(
  `\n${(audioSeconds / 3600).toFixed(2)} h of audio in ${seconds.toFixed(0)} s (${values.threads} threads; encoder and ${decoderNames.length} decoders)`,
);

/** A decoder's column: 24 characters, or its label and two spaces where that is longer. */
function columnWidth(decoder: string): number {
  return Math.max(24, label[decoder]!.length + 2);
}

function print(key: string, r: Row): void {
  const pct = (dn: string) =>
    ((100 * r.edits[dn]!) / Math.max(r.words, 1)).toFixed(1).padStart(columnWidth(dn));
  console.log(
    `  ${key.padEnd(28)} ${String(r.utts).padStart(5)} ${String(r.words).padStart(6)}${decoderNames.map(pct).join('')}`,
  );
}

// ------------------------------------------------------------------ voice activity
const vadUtts = Number(values['vad-utts']);
const snr = Number(values.snr);
if (vadUtts > 0 && model.hasVadHead) {
  const rng = new SeededRandom(2026);
  const pad = new Float32Array(8000);
  for (const noisy of [true, false]) {
    const hits = { rwkv: 0, webrtc: [0, 0, 0, 0], frames: 0, speech: 0 };
    for (const utts of Object.values(sets)) {
      for (const u of utts.slice(0, vadUtts)) {
        const clean = new Float32Array(u.samples.length + 2 * pad.length);
        clean.set(u.samples, pad.length);
        const labels = activityLabels(clean);
        const x = noisy ? withPinkNoise(clean, labels, snr, rng) : clean;
        const vad = new RwkvVad(model, { chunkSteps: 1000, leadingSilence: lead });
        const probs = [...(await vad.accept(x)), ...(await vad.flush())];
        const rtc: number[][] = [];
        for (const mode of [0, 1, 2, 3] as const) {
          const w = await WebRtcVad.create({ mode, frameMs: 30 });
          rtc.push(w.accept(x) as number[]);
          w.dispose();
        }
        for (let j = 0; j < labels.length; j++) {
          const centre = j * 160 + 200;
          const step = Math.floor(j / S);
          const wf = Math.floor(centre / 480);
          if (step >= probs.length || rtc.some((r) => wf >= r.length)) continue;
          const want = labels[j]!;
          hits.frames++;
          hits.speech += want;
          if ((probs[step]! > 0.5 ? 1 : 0) === want) hits.rwkv++;
          rtc.forEach((r, m) => {
            if ((r[wf]! > 0.5 ? 1 : 0) === want) hits.webrtc[m]!++;
          });
        }
      }
    }
    const acc = (h: number) => `${((100 * h) / hits.frames).toFixed(1)}%`;
    console.log(
      `\nvoice activity, ${noisy ? `pink noise at ${snr} dB SNR` : 'no noise'} (${hits.frames} frames of 10 ms, ${((100 * hits.speech) / hits.frames).toFixed(0)}% speech; utterances padded with 0.5 s silence):`,
    );
    console.log(
      `  frame accuracy: RWKV head ${acc(hits.rwkv)}; WebRTC VAD mode 0 ${acc(hits.webrtc[0]!)}, 1 ${acc(hits.webrtc[1]!)}, 2 ${acc(hits.webrtc[2]!)}, 3 ${acc(hits.webrtc[3]!)}`,
    );
    report[noisy ? 'vadNoisy' : 'vadClean'] = hits;
  }
}
if (values.json) console.log(JSON.stringify(report));
await model.dispose();
