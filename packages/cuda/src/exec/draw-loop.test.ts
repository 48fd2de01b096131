import { describe, expect, it } from 'vitest';
import type { CudaRuntime } from '../runtime.js';
import { runDrawLoop } from './draw-loop.js';
import type { Step } from './step.js';

/**
 * What the draw loop enqueues, in order, against a runtime that only records (the kernel
 * itself is checked on a GPU in kernels/draw-token.test.ts, the loop end to end in
 * backend/generate.test.ts): the state goes into the plan once, from step to step by the
 * feed copy, back to the session after the last step, and each step's draw gets its own step
 * number and history column.
 */
function recordingRuntime(log: string[]): CudaRuntime {
  return {
    ctx: {
      allocAsync: (bytes: number) => {
        log.push(`alloc ${bytes}`);
        return 0x1000n;
      },
      memsetD32Async: (_p: bigint, _v: number, n: number) => log.push(`zero ${n * 4}`),
      launchEncoded: (_fn: unknown, cfg: { grid: readonly number[] }, params: Buffer[]) =>
        log.push(
          `draw grid ${cfg.grid.join('x')} T ${params[2]!.readFloatLE()} seed ${params[3]!.readUInt32LE()} step ${params[4]!.readUInt32LE()} col ${params[10]!.readInt32LE()} of ${params[9]!.readInt32LE()}`,
        ),
      copyToHost: (dst: Int32Array) => {
        log.push('tokens to the host');
        dst.forEach((_, i) => {
          dst[i] = i;
        });
      },
      freeAsync: () => log.push('free'),
    },
    stream: { idle: async () => log.push('wait') },
    kernel: (_source: string, name: string) => ({ name, handle: null }),
    lane: () => ({ stream: {} }),
    pollMicros: 0,
  } as unknown as CudaRuntime;
}

const step = (log: string[], label: string): Step => ({ label, enqueue: () => log.push(label) });

/** A session step whose four parts only log their names. */
const recordingStep = (log: string[]) => ({
  into: step(log, 'into'),
  plan: () => log.push('plan'),
  back: step(log, 'back'),
  feed: step(log, 'feed'),
});

describe('the draw loop', () => {
  it('moves the state in once, feeds it from step to step, moves it back once, draws after every step', async () => {
    const log: string[] = [];
    const drawn = await runDrawLoop(
      recordingRuntime(log),
      recordingStep(log),
      { logits: 0x10n, feed: 0x20n, batch: 2, vocab: 65536 },
      { steps: 3, temperature: 0.5, seed: 9, firstStep: 5 },
    );
    expect(log).toEqual([
      'alloc 280', // 24 bytes of cells and tickets (padded to 256), then the 2 x 3 history
      'zero 24',
      'into',
      'plan',
      'feed',
      'draw grid 16x2 T 0.5 seed 9 step 5 col 0 of 3',
      'plan',
      'feed',
      'draw grid 16x2 T 0.5 seed 9 step 6 col 1 of 3',
      'plan',
      'back',
      'draw grid 16x2 T 0.5 seed 9 step 7 col 2 of 3',
      'wait',
      'tokens to the host',
      'free',
    ]);
    expect([...drawn]).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('one step: in, the plan, back, the draw; no carried values: the plan and the draws only', async () => {
    const log: string[] = [];
    await runDrawLoop(
      recordingRuntime(log),
      recordingStep(log),
      { logits: 0x10n, feed: 0x20n, batch: 1, vocab: 50 },
      { steps: 1, temperature: 0, seed: 0, firstStep: 0 },
    );
    expect(log.slice(2, 6)).toEqual(['into', 'plan', 'back', 'draw grid 1x1 T 0 seed 0 step 0 col 0 of 1']);
    const bare: string[] = [];
    await runDrawLoop(
      recordingRuntime(bare),
      { plan: () => bare.push('plan') },
      { logits: 0x10n, feed: 0x20n, batch: 1, vocab: 50 },
      { steps: 2, temperature: 0, seed: 0, firstStep: 0 },
    );
    expect(bare.filter((l) => l === 'plan' || l.startsWith('draw')).length).toBe(4);
  });

  it('frees its scratch memory when enqueuing fails', async () => {
    const log: string[] = [];
    await expect(
      runDrawLoop(
        recordingRuntime(log),
        {
          plan: () => {
            throw new Error('capture failed');
          },
        },
        { logits: 0x10n, feed: 0x20n, batch: 1, vocab: 50 },
        { steps: 2, temperature: 0, seed: 0, firstStep: 0 },
      ),
    ).rejects.toThrow(/capture failed/);
    expect(log.at(-1)).toBe('free');
  });
});
