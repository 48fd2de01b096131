import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ProgressStream, startProgress } from './progress.js';

/** A stand-in for stderr that records what is written. */
function fakeStream(isTTY: boolean): ProgressStream & { text: string } {
  const s = {
    text: '',
    isTTY,
    columns: 120,
    write(t: string) {
      s.text += t;
      return true;
    },
  };
  return s;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('startProgress', () => {
  it('draws nothing when the stream is not a terminal; output and notes pass straight through', () => {
    const stream = fakeStream(false);
    const p = startProgress({ total: 10, label: 'work', stream, stdoutIsTTY: true });
    expect(p.shown).toBe(false);
    let out = '';
    p.update(3, 'a file');
    p.increment();
    p.print(() => {
      out += 'result\n';
    });
    p.note('an error line\n');
    p.stop();
    expect(out).toBe('result\n');
    expect(stream.text).toBe('an error line\n');
  });

  it('draws a bar on a terminal: label, bar, percentage, counts, status; cleared when stopped', () => {
    vi.useFakeTimers();
    const stream = fakeStream(true);
    const p = startProgress({ total: 45, label: 'transcribe talk.wav', unit: 's', decimals: 1, stream });
    expect(p.shown).toBe(true);
    // cli-progress redraws at most 10 times a second: let time pass between updates.
    p.update(0, 'starting');
    vi.advanceTimersByTime(250);
    p.update(22.5);
    vi.advanceTimersByTime(250);
    p.update(45);
    vi.advanceTimersByTime(250);
    p.stop();
    p.stop(); // idempotent
    expect(stream.text).toContain(
      'transcribe talk.wav [------------------------] 0% | 0.0/45.0 s | starting',
    );
    expect(stream.text).toMatch(/\[={12}-{12}\] 50% \| 22\.5\/45\.0 s \| ETA \d+s \| starting/);
    // Done: no ETA; then the line is erased (cursor restored, line cleared).
    expect(stream.text).toContain('[========================] 100% | 45.0/45.0 s | starting');
    expect(stream.text.endsWith('\x1b8\x1b[1G\x1b[2K')).toBe(true);
  });

  it('lifts the bar for output when stdout is the same terminal, and for notes always', () => {
    const stream = fakeStream(true);
    let out = '';
    const p = startProgress({ total: 2, label: 'classify', stream, stdoutIsTTY: true });
    p.increment();
    const before = stream.text.length;
    p.print(() => {
      out += 'a.png\tBag\n';
      // Written while the bar line is erased.
      expect(stream.text.slice(before)).toBe('\r\x1b[K');
    });
    // Then the cursor position is saved (where cli-progress returns at stop) and the bar drawn.
    expect(stream.text.slice(before).startsWith('\r\x1b[K\x1b7\x1b[1Gclassify [')).toBe(true);
    p.note('rwkv-streams: classify: BAD_MAGIC: b.png\n');
    expect(stream.text).toContain('\r\x1b[Krwkv-streams: classify: BAD_MAGIC: b.png\n\x1b7');
    p.stop();
    expect(out).toBe('a.png\tBag\n');

    // stdout elsewhere (a pipe): output leaves the bar alone.
    const quiet = fakeStream(true);
    const q = startProgress({ total: 2, label: 'classify', stream: quiet, stdoutIsTTY: false });
    const drawn = quiet.text;
    q.print(() => {
      out += 'x\n';
    });
    expect(quiet.text).toBe(drawn);
    q.stop();
  });
});
