/**
 * What a word lexicon costs to load: time to read it (words, pairs and triples) and the memory it keeps
 * afterwards (JS heap and array buffers), over several loads in one process. Run with `node --expose-gc`:
 *
 *   node --expose-gc bench/dist/lexicon-load.js [models/rwkv-speech-en-synth/words.tsv] [--loads 5]
 */
import { parseArgs } from 'node:util';
import { WordLexicon } from '@rwkv-streams/audio';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { loads: { type: 'string', default: '5' } },
});
const path = positionals[0] ?? 'models/rwkv-speech-en-synth/words.tsv';
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (the retained heap is measured after a full collection)');
const mib = (b: number): string => (b / 2 ** 20).toFixed(1);

const kept: WordLexicon[] = [];
for (let i = 0; i < Number(values.loads); i++) {
  gc();
  const m0 = process.memoryUsage();
  const t0 = performance.now();
  const lexicon = WordLexicon.fromFile(path);
  const ms = performance.now() - t0;
  gc();
  const m1 = process.memoryUsage();
  // typed arrays' memory lies outside the JS heap: counted through arrayBuffers
  const heap = m1.heapUsed - m0.heapUsed;
  const buffers = m1.arrayBuffers - m0.arrayBuffers;
  kept.push(lexicon); // kept alive, so each load's heap is its own
  console.log(
    `load ${i + 1}: ${ms.toFixed(0)} ms, kept ${mib(heap + buffers)} MiB (JS heap ${mib(heap)}, array buffers ${mib(buffers)}; ${lexicon.size} words, ${lexicon.bigramPairs} pairs, ${lexicon.trigramTriples} triples)`,
  );
}
console.log(`resident after ${kept.length} loads: ${mib(process.memoryUsage().rss)} MiB`);
