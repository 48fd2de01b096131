import { describe, expect, it } from 'vitest';
import { CudaStream } from './cuda-driver.js';

/** A stream whose driver answers are scripted: done after `readyAfter` queries. */
class ScriptedStream extends CudaStream {
  queries = 0;
  threadWaits = 0;
  constructor(private readonly readyAfter: number) {
    super(null);
  }
  override query(): boolean {
    return ++this.queries > this.readyAfter;
  }
  override synchronizeAsync(): Promise<void> {
    this.threadWaits++;
    return Promise.resolve();
  }
}

describe('CudaStream.idle', () => {
  it('polls until the stream is done, letting the event loop run between polls', async () => {
    const s = new ScriptedStream(3);
    let ranBetween = false;
    setImmediate(() => {
      ranBetween = true;
    });
    await s.idle(1e6);
    expect(s.queries).toBe(4);
    expect(s.threadWaits).toBe(0);
    expect(ranBetween).toBe(true);
  });

  it('hands the wait to a worker thread once the polling time is spent, or at once with 0', async () => {
    const slow = new ScriptedStream(Number.POSITIVE_INFINITY);
    const t = performance.now();
    await slow.idle(2000); // 2 ms
    expect(performance.now() - t).toBeGreaterThanOrEqual(2);
    expect(slow.queries).toBeGreaterThan(1);
    expect(slow.threadWaits).toBe(1);
    const never = new ScriptedStream(0);
    await never.idle(0);
    expect(never.queries).toBe(0);
    expect(never.threadWaits).toBe(1);
  });

  it('returns without a wait when the work is already done', async () => {
    const done = new ScriptedStream(0);
    await done.idle(4000);
    expect(done.queries).toBe(1);
    expect(done.threadWaits).toBe(0);
  });
});
