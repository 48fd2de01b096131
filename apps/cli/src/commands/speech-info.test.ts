import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../test/run-cli.js';

const parity = fileURLToPath(new URL('../../../../packages/audio/fixtures/speech-parity/', import.meta.url));
const shipped = fileURLToPath(new URL('../../../../models/rwkv-speech-en-synth/', import.meta.url));

describe('rwkv-streams info on speech models', () => {
  it('describes the parts of an exported speech model, from its folder or its file', async () => {
    for (const path of [parity, `${parity}model.safetensors`]) {
      const r = await runCli('info', path);
      expect(r.code).toBe(0);
      const facts = JSON.parse(r.out) as Record<string, unknown>;
      expect(facts).toMatchObject({
        kind: 'speech',
        featureDim: 80,
        framesPerStep: 4,
        ctcFramesPerStep: 1,
        vocabulary: 29,
        encoder: { version: '7', layers: 2, embedding: 64, heads: 2, headSize: 32 },
        predictor: { layers: 1, embedding: 64 },
        joiner: 32,
        voiceActivityHead: true,
      });
    }
    const facts = JSON.parse((await runCli('info', shipped)).out) as {
      parameters: number;
      storedAs: object;
      ctcFramesPerStep: number;
    };
    expect(facts.parameters).toBe(6_616_536); // the model card's count
    expect(facts.storedAs).toEqual({ float16: 6_616_536 });
    expect(facts.ctcFramesPerStep).toBe(2); // since 2026-12-07: two CTC frames a step
  });
});
