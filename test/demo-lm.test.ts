import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ByteLanguageModel, loadRwkvModel } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';

/**
 * The demo LM we train (training/) and ship (models/demo-lm): the runtime reproduces what
 * PyTorch computed at export time, so train -> export -> run is proven end to end.
 */
const dir = fileURLToPath(new URL('../models/demo-lm/', import.meta.url));

describe('models/demo-lm through the runtime', () => {
  it('loads as RWKV-7 and reproduces PyTorch: logits after "The " and bits per byte', async () => {
    const model = await loadRwkvModel(`${dir}model.safetensors`);
    expect(model.config.version).toBe(7);
    const lm = new ByteLanguageModel(model);

    const expected = JSON.parse(readFileSync(`${dir}expected-logits-The.json`, 'utf8')) as {
      logits: number[];
    };
    for (const mode of ['recurrent', 'sequence'] as const) {
      const { logits } = await lm.logits('The ', mode);
      const diff = Math.max(...Array.from(logits, (v, i) => Math.abs(v - expected.logits[i]!)));
      console.log(`demo-lm logits after "The " (${mode}): max |diff| vs PyTorch ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(1e-4);
    }

    // PyTorch's check at export: bits per byte over the first 1024 predictions of validation.txt.
    const metrics = JSON.parse(readFileSync(`${dir}metrics.json`, 'utf8')) as {
      rnn_check: { bytes: number; bpb_rnn_prefix: number };
    };
    const text = new Uint8Array(readFileSync(`${dir}validation.txt`)).subarray(
      0,
      metrics.rnn_check.bytes + 1,
    );
    const { bitsPerByte, bytes } = await lm.bitsPerByte(text, 512);
    expect(bytes).toBe(metrics.rnn_check.bytes);
    console.log(
      `demo-lm bpb on ${bytes} bytes: ours ${bitsPerByte.toFixed(7)}, PyTorch ${metrics.rnn_check.bpb_rnn_prefix.toFixed(7)}`,
    );
    expect(Math.abs(bitsPerByte - metrics.rnn_check.bpb_rnn_prefix)).toBeLessThan(1e-5);
    await model.dispose();
  });
});
