/**
 * Quantization quality in one command: bits per byte of the demo LM on its validation
 * text, and the largest logit difference on rwkv.cpp's fixtures, per precision.
 *
 *   pnpm bench:quality                 # first 32 KiB of validation.txt
 *   pnpm bench:quality --bytes 0       # the whole file (about 4 minutes a precision)
 *   pnpm bench:quality --block 128     # int8/int4 in blocks of 128 weights (default 32)
 *   pnpm bench:quality --backend cpu-native  # on the native CPU backend (what it does not
 *                                            # compile, int8 and fp16 among it, on onnxruntime)
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ByteLanguageModel, loadRwkvModel, type RwkvModelOptions } from '@rwkv-streams/core';

const { values } = parseArgs({
  options: {
    bytes: { type: 'string', default: String(32 * 1024) },
    block: { type: 'string' },
    model: {
      type: 'string',
      default: fileURLToPath(new URL('../../models/demo-lm/model.safetensors', import.meta.url)),
    },
    text: {
      type: 'string',
      default: fileURLToPath(new URL('../../models/demo-lm/validation.txt', import.meta.url)),
    },
    fixtures: {
      type: 'string',
      default: fileURLToPath(new URL('../../../shared/fixtures/rwkv-cpp/', import.meta.url)),
    },
    backend: { type: 'string', default: 'onnxruntime' },
  },
});
if (values.backend !== 'onnxruntime' && values.backend !== 'cpu-native')
  throw new Error(`--backend must be onnxruntime or cpu-native, got ${values.backend}`);
// importing the package registers it for device 'cpu' before any model loads
if (values.backend === 'cpu-native') await import('@rwkv-streams/cpu-native');

const block = values.block === undefined ? {} : { quantizationBlockSize: Number(values.block) };
const precisions: [string, RwkvModelOptions][] = [
  ['fp32', {}],
  ['fp16', { weightDType: 'float16' }],
  ['int8', { quantization: 'int8', ...block }],
  ['int4', { quantization: 'int4', ...block }],
];

const limit = Number(values.bytes);
const whole = new Uint8Array(readFileSync(values.text));
const text = limit > 0 ? whole.subarray(0, limit) : whole;
console.log(`command: pnpm bench:quality ${process.argv.slice(2).join(' ')}`.trimEnd());
console.log(`\n## Demo LM: bits per byte on ${text.length} bytes of ${values.text}\n`);
console.log('| precision | bits per byte | vs fp32 | seconds |');
console.log('| --- | --- | --- | --- |');
let reference = 0;
for (const [name, options] of precisions) {
  const lm = new ByteLanguageModel(await loadRwkvModel(values.model, options));
  const t0 = performance.now();
  const { bitsPerByte } = await lm.bitsPerByte(text, 1024);
  if (name === 'fp32') reference = bitsPerByte;
  const delta =
    name === 'fp32'
      ? ''
      : `${bitsPerByte - reference >= 0 ? '+' : ''}${(bitsPerByte - reference).toFixed(4)}`;
  console.log(
    `| ${name} | ${bitsPerByte.toFixed(4)} | ${delta} | ${((performance.now() - t0) / 1000).toFixed(1)} |`,
  );
  await lm.model.dispose();
}

console.log(`\n## rwkv.cpp fixtures: largest |logit - rwkv.cpp FP32 logit| after '"in'\n`);
if (!existsSync(values.fixtures)) {
  console.log(`(fixtures not found at ${values.fixtures}; skipped)`);
} else {
  console.log(`| model | ${precisions.map(([n]) => n).join(' | ')} |`);
  console.log(`| --- | ${precisions.map(() => '---').join(' | ')} |`);
  for (const name of ['4v0-660K', '5v2-730K', '7v0-834K']) {
    const buf = readFileSync(`${values.fixtures}expected-logits-${name}.bin`);
    const expected = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const cells: string[] = [];
    for (const [, options] of precisions) {
      const model = await loadRwkvModel(`${values.fixtures}tiny-rwkv-${name}-FP32.bin`, options);
      const { logits } = await model.forward([[34, 105, 110]], model.createState());
      cells.push(Math.max(...Array.from(logits, (v, i) => Math.abs(v - expected[i]!))).toExponential(2));
      await model.dispose();
    }
    console.log(`| ${name} | ${cells.join(' | ')} |`);
  }
}
