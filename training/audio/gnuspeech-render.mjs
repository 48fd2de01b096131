#!/usr/bin/env node
// Renders GnuSpeech jobs to WAV files, one process a shard (synthesize.py's render_gnuspeech):
// GnuSpeech is an articulatory synthesizer (a tube model of the vocal tract driven by rules),
// a voice family unlike espeak-ng's formant rules and the recorded voices of flite and festival.
// It runs as WebAssembly (npm @echogarden/gnuspeech-wasm 0.3.0, GPL-3, with its English data),
// so it needs node and that package's node_modules folder, not a native build:
//
//   GNUSPEECH_MODULES=/path/to/node_modules node training/audio/gnuspeech-render.mjs JOBS.json
//
// JOBS.json: [{"text", "voice" (male | female | large_child | small_child | baby), "tempo",
// "path"}]. Each job's WAV (16-bit PCM, 44.1 kHz) is written to its path; a job GnuSpeech
// fails on is reported on stderr and left without a file (the caller renders it otherwise).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.GNUSPEECH_MODULES;
const jobsFile = process.argv[2];
if (!modules || !jobsFile) {
  console.error('usage: GNUSPEECH_MODULES=DIR node gnuspeech-render.mjs JOBS.json');
  process.exit(2);
}
const entry = join(modules, '@echogarden', 'gnuspeech-wasm', 'dist', 'exports', 'GnuSpeech.js');
const { synthesize } = await import(pathToFileURL(entry).href);
const jobs = JSON.parse(readFileSync(jobsFile, 'utf8'));
let failed = 0;
for (const job of jobs) {
  try {
    const { audioData } = await synthesize(job.text, { voice: job.voice, tempo: job.tempo });
    writeFileSync(job.path, audioData);
  } catch (err) {
    failed++;
    console.error(`gnuspeech: ${JSON.stringify(job.text).slice(0, 80)}: ${err?.message ?? err}`);
  }
}
if (failed === jobs.length && jobs.length > 0) process.exit(1);
