#!/usr/bin/env node
// Renders GnuSpeech jobs to WAV files, one process a shard (synthesize.py's render_gnuspeech):
// GnuSpeech is an articulatory synthesizer (a tube model of the vocal tract driven by rules),
// a voice family unlike espeak-ng's formant rules and the recorded voices of flite and festival.
// It runs as WebAssembly (npm @echogarden/gnuspeech-wasm 0.3.0, GPL-3, with its English data),
// so it needs node and that package's node_modules folder, not a native build:
//
//   GNUSPEECH_MODULES=/path/to/node_modules node training/audio/gnuspeech-render.mjs JOBS.json
//
// JOBS.json: [{"text", "voice" (a preset: male | female | large_child | small_child | baby),
// "tempo", "path", "params" (optional: values that replace the preset's, e.g.
// {"vocal_tract_length": 16.2, "radius_3_coef": 1.08})}]. Each job's voice is written as a
// voice file of its own into the module's file system, so every utterance can be another
// vocal tract. Each WAV (16-bit PCM, 44.1 kHz) goes to its path; a job GnuSpeech fails on is
// reported on stderr and left without a file (the caller renders it otherwise).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.GNUSPEECH_MODULES;
const jobsFile = process.argv[2];
if (!modules || !jobsFile) {
  console.error('usage: GNUSPEECH_MODULES=DIR node gnuspeech-render.mjs JOBS.json');
  process.exit(2);
}
const load = (...path) => import(pathToFileURL(join(modules, ...path)).href);
const { default: initialize } = await load('@echogarden', 'gnuspeech-wasm', 'wasm', 'gnuspeech.js');
const { wrapEmscriptenModuleHeap } = await load('wasm-heap-manager', 'dist', 'exports', 'WasmHeapManager.js');
const m = await initialize();
const heap = wrapEmscriptenModuleHeap(m);
const DATA = '/data/en';
const control = m.FS.readFile(`${DATA}/trm_control_model.txt`, { encoding: 'utf8' });

/** The preset's voice file with `params` replacing its values (unknown names are an error). */
function voiceFile(preset, params) {
  let text = m.FS.readFile(`${DATA}/voice_${preset}.txt`, { encoding: 'utf8' });
  for (const [name, value] of Object.entries(params ?? {})) {
    const line = new RegExp(`^${name} = .*$`, 'm');
    if (!line.test(text)) throw new Error(`voice_${preset}.txt has no '${name}'`);
    text = text.replace(line, `${name} = ${Number(value)}`);
  }
  return text;
}

const jobs = JSON.parse(readFileSync(jobsFile, 'utf8'));
let failed = 0;
for (const job of jobs) {
  const refs = [];
  try {
    m.FS.writeFile(`${DATA}/voice_job.txt`, voiceFile(job.voice, job.params));
    m.FS.writeFile(
      `${DATA}/trm_control_model.txt`,
      control.replace(/^voice_name = .*$/m, 'voice_name = job').replace(/^tempo = .*$/m, `tempo = ${Number(job.tempo)}`),
    );
    for (const s of [job.text, './out.wav', DATA, './out-params.txt']) refs.push(heap.allocNullTerminatedUtf8String(s));
    m._GnuSpeech_synthesizeToFile(refs[0].address, refs[1].address, refs[2].address, refs[3].address, 0);
    writeFileSync(job.path, m.FS.readFile('./out.wav'));
  } catch (err) {
    failed++;
    console.error(`gnuspeech: ${JSON.stringify(job.text).slice(0, 80)}: ${err?.message ?? err}`);
  } finally {
    for (const r of refs) r.free();
  }
}
if (failed > 0 && failed === jobs.length) process.exit(1);
