import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRwkvModel, type RwkvSession } from '@rwkv-streams/core';
import { type BenchFigure, type BenchOptions, rate } from './common.js';

/** Streams decoded together for the batched decode figure. */
export const CORE_BATCH = 16;

/** Tokens (bytes) a prefill call takes. */
export const CORE_PREFILL_TOKENS = 512;

/**
 * The core runtime on the demo language model (models/demo-lm: byte-level RWKV-7, 6 x 256,
 * 5.4M parameters), fed bytes of its validation text: decode tokens/s for one stream and
 * for {@link CORE_BATCH} streams in one call (a session: the state stays in the backend
 * between tokens, as decoding runs), and prefill tokens/s (the sequence graph,
 * {@link CORE_PREFILL_TOKENS} bytes a call from a fresh state).
 */
export async function benchCore(o: BenchOptions): Promise<BenchFigure[]> {
  const dir = join(o.models, 'demo-lm');
  const text = new Uint8Array(readFileSync(join(dir, 'validation.txt')));
  const model = await loadRwkvModel(join(dir, 'model.safetensors'), { device: o.device });
  const ms = o.quick ? 300 : 3000;
  let at = 0;
  const byte = () => text[at++ % text.length]!;
  const figure = (name: string, value: number): BenchFigure => ({
    package: 'core',
    figure: name,
    unit: 'tokens/s',
    value,
  });
  /** Tokens/s of a session of `streams`, 8 tokens a stream per timed round (after warm-up). */
  const decode = async (streams: number): Promise<number> => {
    const session: RwkvSession = await model.openSession(streams);
    try {
      const step = () => session.forward(Array.from({ length: streams }, () => [byte()]));
      for (let i = 0; i < 10; i++) await step();
      return await rate(async () => {
        for (let i = 0; i < 8; i++) await step();
        return 8 * streams;
      }, ms);
    } finally {
      await session.dispose();
    }
  };
  try {
    o.onStep?.('core: decode, 1 stream');
    const one = await decode(1);
    o.onStep?.(`core: decode, ${CORE_BATCH} streams`);
    const batched = await decode(CORE_BATCH);
    o.onStep?.('core: prefill');
    const prompt = Array.from(text.subarray(0, CORE_PREFILL_TOKENS));
    const prefillOnce = async () => {
      await model.forward([prompt], model.createState(1), { mode: 'sequence' });
      return prompt.length;
    };
    await prefillOnce(); // compiles the sequence graph's shapes
    const prefill = await rate(prefillOnce, ms);
    return [
      figure('demo-lm decode, 1 stream', one),
      figure(`demo-lm decode, ${CORE_BATCH} streams batched`, batched),
      figure(`demo-lm prefill, ${CORE_PREFILL_TOKENS} tokens a call`, prefill),
    ];
  } finally {
    await model.dispose();
  }
}
