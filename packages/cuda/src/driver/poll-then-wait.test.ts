import { describe, expect, it } from 'vitest';
import { pollThenWait } from './cuda-driver.js';

/** The wait behind `CudaStream.idle` and `CudaEvent.done`, with stand-ins for the driver. */
describe('pollThenWait', () => {
  it('returns as soon as polling sees the work done, without the blocking wait', async () => {
    let polls = 0;
    let blocked = false;
    await pollThenWait(
      () => ++polls >= 3,
      1_000_000,
      async () => {
        blocked = true;
      },
    );
    expect(polls).toBe(3);
    expect(blocked).toBe(false);
  });

  it('lets the event loop run between polls', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const until = performance.now() + 30;
    await pollThenWait(
      () => performance.now() >= until,
      1_000_000,
      async () => undefined,
    );
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
  });

  it('hands the wait to the blocking call once the poll budget is spent, or at once with 0', async () => {
    for (const budget of [2000, 0]) {
      let polls = 0;
      let blocked = false;
      await pollThenWait(
        () => {
          polls++;
          return false;
        },
        budget,
        async () => {
          blocked = true;
        },
      );
      expect(blocked).toBe(true);
      if (budget === 0) expect(polls).toBe(0);
      else expect(polls).toBeGreaterThan(0);
    }
  });

  it('passes a failed query on as a rejection', async () => {
    await expect(
      pollThenWait(
        () => {
          throw new Error('CUDA_ERROR_LAUNCH_FAILED');
        },
        1000,
        async () => undefined,
      ),
    ).rejects.toThrow(/LAUNCH_FAILED/);
  });
});
