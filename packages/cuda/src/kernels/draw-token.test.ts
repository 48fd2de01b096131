import { drawToken, SeededRandom } from '@rwkv-streams/core';
import { describe, expect, it } from 'vitest';
import { hasNvcc, nvccPtx } from '../../test-support/nvcc.js';
import { probeGpu } from '../driver/probe.js';
import { runDrawLoop } from '../exec/draw-loop.js';
import { sharedRuntime } from '../runtime.js';
import { DRAW_TOKEN, drawTokenBlocks } from './draw-token.js';

/**
 * The GPU's token draws against the core's host rule (`drawToken`, float64) on the same
 * logits: every draw of a loop of 70 steps (three chunks of the loop's waits), several
 * rows, vocabularies above and below one block's share, at temperature 0 and above, with
 * ties, NaN and infinite logits. Bound: the same token every time (random logits here have
 * no two scores within float32 rounding).
 */
const probe = probeGpu();

describe('the token draw kernel', () => {
  it('about 16 logits a thread, 1 to 64 blocks a row', () => {
    expect(drawTokenBlocks(65536)).toBe(16);
    expect(drawTokenBlocks(50)).toBe(1);
    expect(drawTokenBlocks(10_000_000)).toBe(64);
  });

  it.skipIf(!hasNvcc)(
    'compiles for sm_90 (nvcc -ptx)',
    () => {
      expect(nvccPtx(DRAW_TOKEN.source)).toContain('atom.global.max.u64');
    },
    60_000,
  );
});

describe.skipIf(!probe.ok)(`token draws on CUDA against the host rule (${probe.reason.slice(0, 80)})`, () => {
  const rt = probe.ok ? sharedRuntime() : undefined;
  for (const [batch, vocab] of [
    [1, 65536],
    [3, 50],
    [5, 4099],
  ] as const) {
    it(`${batch} row(s) of ${vocab} logits, 70 draws each, temperatures 0, 0.7 and 1.3`, async () => {
      const { ctx, stream } = rt!;
      const rng = new SeededRandom(vocab + batch);
      const logits = Float32Array.from({ length: batch * vocab }, () => 3 * rng.normal());
      if (batch > 1) {
        logits[vocab + 7] = 1e3; // row 1: a tie at the top, the lower index wins
        logits[vocab + 9] = 1e3;
        logits[vocab + 2] = Number.NaN;
        logits[vocab + 3] = Number.POSITIVE_INFINITY * -1;
      }
      const steps = 70;
      const dLogits = ctx.malloc(logits.byteLength);
      const feed = ctx.malloc(batch * 4);
      try {
        ctx.copyToDevice(dLogits, logits, stream);
        for (const temperature of [0, 0.7, 1.3]) {
          const seed = 1234567 + vocab;
          const drawn = await runDrawLoop(
            rt!,
            { plan: () => undefined }, // the same logits every step: only the step number moves
            { logits: dLogits, feed, batch, vocab },
            { steps, temperature, seed, firstStep: 5 },
          );
          const fed = new Int32Array(batch);
          ctx.copyToHost(fed, feed, stream);
          for (let b = 0; b < batch; b++) {
            const row = logits.subarray(b * vocab, (b + 1) * vocab);
            const want = Array.from({ length: steps }, (_, s) => drawToken(row, temperature, seed, b, 5 + s));
            expect([...drawn.subarray(b * steps, (b + 1) * steps)]).toEqual(want);
            expect(fed[b]).toBe(want[steps - 1]);
            if (temperature === 0 && b === 1) expect(want[0]).toBe(7);
            if (temperature > 0 && vocab > 1000 && b !== 1) expect(new Set(want).size).toBeGreaterThan(10);
          }
        }
      } finally {
        ctx.free(dLogits);
        ctx.free(feed);
      }
    });
  }

  it('a row of NaN logits draws -1 (reported by the host) and feeds 0', async () => {
    const { ctx, stream } = rt!;
    const logits = new Float32Array(2 * 300).fill(Number.NaN);
    logits.fill(0.5, 300); // row 1 is fine: all equal, token 0 at temperature 0
    const dLogits = ctx.malloc(logits.byteLength);
    const feed = ctx.malloc(8);
    try {
      ctx.copyToDevice(dLogits, logits, stream);
      const drawn = await runDrawLoop(
        rt!,
        { plan: () => undefined },
        { logits: dLogits, feed, batch: 2, vocab: 300 },
        { steps: 3, temperature: 0, seed: 1, firstStep: 0 },
      );
      const fed = new Int32Array(2);
      ctx.copyToHost(fed, feed, stream);
      expect([...drawn]).toEqual([-1, -1, -1, 0, 0, 0]);
      expect([...fed]).toEqual([0, 0]);
    } finally {
      ctx.free(dLogits);
      ctx.free(feed);
    }
  });
});
