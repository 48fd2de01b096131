/**
 * The demo: generate English text on the CPU with the byte-level RWKV-7 language model
 * trained by `training/` and shipped in `models/demo-lm/`, then fork one prompt's state
 * into several continuations served as a batch through the RxJS operators.
 *
 *   node examples/generate-text/dist/main.js [--prompt TEXT] [--tokens N] [--model FILE]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ByteLanguageModel, loadRwkvModel, runStateful, rwkvStepper, Sampler } from '@rwkv-streams/core';
import { Subject } from 'rxjs';

const { values } = parseArgs({
  options: {
    prompt: { type: 'string', default: 'To install the package, ' },
    tokens: { type: 'string', default: '240' },
    model: {
      type: 'string',
      default: fileURLToPath(new URL('../../../models/demo-lm/model.safetensors', import.meta.url)),
    },
    seed: { type: 'string', default: '7' },
  },
});

const model = await loadRwkvModel(values.model);
const c = model.config;
console.log(
  `RWKV-${c.version} byte-level LM: ${c.nLayer} layers x ${c.nEmbd}, ${c.nHead} heads of ${c.headSize}, on ${model.device}`,
);
const lm = new ByteLanguageModel(model);

// 1. Streamed generation.
process.stdout.write(
  `\n--- generate (temperature 0.8, top-p 0.9, seed ${values.seed}) ---\n${values.prompt}`,
);
const decoder = new TextDecoder();
const t0 = performance.now();
const { bytes } = await lm.generate(values.prompt, {
  maxTokens: Number(values.tokens),
  temperature: 0.8,
  topP: 0.9,
  seed: Number(values.seed),
  onToken: (t) => process.stdout.write(decoder.decode(Uint8Array.of(t), { stream: true })),
});
const seconds = (performance.now() - t0) / 1000;
console.log(
  `${decoder.decode()}\n--- ${bytes.length} bytes in ${seconds.toFixed(2)} s (${(bytes.length / seconds).toFixed(0)} bytes/s) ---`,
);

// 2. State is a value: fork the prompt's state into three streams that generate side by
//    side. runStateful carries each stream's state and batches the streams' steps into
//    one model call; each result is sampled and fed back as that stream's next input.
const prompt = 'A process is ';
const { logits, state } = await lm.logits(prompt);
const keys = ['a', 'b', 'c'];
const length = 80;
const samplers = new Map(
  keys.map((k, i) => [k, new Sampler({ temperature: 0.9, topP: 0.9, seed: 100 + i })]),
);
const text = new Map(keys.map((k) => [k, [] as number[]]));
const requests = new Subject<{ key: string; token: number }>();
let calls = 0;
const stepper = rwkvStepper(model, 'recurrent');
const counted = {
  ...stepper,
  step: (batch: Parameters<typeof stepper.step>[0]) => {
    calls++;
    return stepper.step(batch);
  },
};
const finished = new Promise<void>((resolve, reject) => {
  requests
    .pipe(
      runStateful({
        model: counted,
        key: (item) => item.key,
        input: (item) => [item.token],
        initialState: () => state.clone(),
        maxBatchSize: keys.length,
      }),
    )
    .subscribe({
      next: (r) => {
        if (!r.ok) return reject(r.error);
        const generated = text.get(r.key)!;
        generated.push(r.item.token);
        if (generated.length < length)
          requests.next({ key: r.key, token: samplers.get(r.key)!.sample(r.output) });
        else if ([...text.values()].every((t) => t.length >= length)) requests.complete();
      },
      error: reject,
      complete: resolve,
    });
});
for (const key of keys) requests.next({ key, token: samplers.get(key)!.sample(logits) });
await finished;
console.log(
  `\n--- one prompt state, three forked streams: ${keys.length * length} tokens in ${calls} batched model calls ---`,
);
for (const k of keys) console.log(`[${k}] ${prompt}${decoder.decode(Uint8Array.from(text.get(k)!))}`);
await model.dispose();
