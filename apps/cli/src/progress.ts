import cliProgress from 'cli-progress';

/** Where a bar is drawn: stderr, or a stand-in in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  /** A bar is drawn only when this is true (a terminal). */
  readonly isTTY?: boolean;
  /** The terminal's width (the bar line is cut to it). */
  readonly columns?: number;
}

/** What the long commands tell their progress; all of it does nothing when no bar is drawn. */
export interface Progress {
  /** Whether a bar is being drawn (stderr is a terminal). */
  readonly shown: boolean;
  /** Sets the work done so far (in the units of `total`), and optionally what is being done. */
  update(done: number, status?: string): void;
  /** Adds to the work done. */
  increment(by?: number, status?: string): void;
  /**
   * Runs `write`, which prints to stdout, without tearing the bar when stdout is the same
   * terminal: the bar is lifted off its line, the output written, the bar drawn again below.
   */
  print(write: () => void): void;
  /** Writes a message (an error line) to the bar's stream, above the bar. */
  note(text: string): void;
  /** Removes the bar (its line is cleared). Safe to call more than once. */
  stop(): void;
}

/** How a bar is set up. */
export interface ProgressOptions {
  /** The amount of work, in any unit (files, seconds of audio, steps). */
  readonly total: number;
  /** Shown before the bar: the command, and what it works on. */
  readonly label: string;
  /** Shown after the counts, e.g. `s` for seconds of audio. */
  readonly unit?: string;
  /** Decimals of the counts (0 for items, 1 for seconds). */
  readonly decimals?: number;
  /** Where the bar goes (default: process.stderr); nothing is drawn unless it is a terminal. */
  readonly stream?: ProgressStream;
  /** Whether stdout is the same terminal, so output must lift the bar (default: process.stdout.isTTY). */
  readonly stdoutIsTTY?: boolean;
  /** False: no bar whatever the stream (work too short for one); output still passes through. */
  readonly show?: boolean;
}

/** Commands over files show a bar from this many files on: fewer are done before a bar means anything. */
export const PROGRESS_MIN_FILES = 8;

const ERASE_LINE = '\r\x1b[K';
/** Saves the cursor position: cli-progress restores it when the bar stops (see print()). */
const SAVE_CURSOR = '\x1b7';

/** Characters of the bar itself. */
const BAR_WIDTH = 24;

/** A time left as the bar shows it: `42s`, `3m05s`. */
const seconds = (t: number): string => {
  const s = Math.ceil(t);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

/** A progress that draws nothing: output and notes pass straight through. */
function silent(stream: ProgressStream): Progress {
  return {
    shown: false,
    update() {},
    increment() {},
    print(write) {
      write();
    },
    note(text) {
      stream.write(text);
    },
    stop() {},
  };
}

/**
 * Starts a progress bar (cli-progress) on stderr when it is a terminal, and nothing
 * otherwise, so piped or redirected runs and CI logs stay clean: `label [====----] 42% |
 * 21/50 unit | ETA 3s | status` (cut to the terminal's width). Always `stop()` it (in a `finally`): a drawn bar redraws
 * itself on a timer until then.
 */
export function startProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  if (stream.isTTY !== true || options.show === false) return silent(stream);
  const stdoutIsTTY = options.stdoutIsTTY ?? process.stdout.isTTY === true;
  const decimals = options.decimals ?? 0;
  const unit = options.unit ? ` ${options.unit}` : '';
  const bar = new cliProgress.SingleBar({
    // cli-progress types the stream as a Node writable; it only calls write() and reads
    // isTTY and columns, which a ProgressStream has.
    stream: stream as NodeJS.WritableStream,
    format: (_options, p, payload: { status: string }) => {
      const filled = Math.round(p.progress * BAR_WIDTH);
      // No ETA before there is a rate to go on, nor once done.
      const eta = p.value > 0 && p.progress < 1 && Number.isFinite(p.eta) ? ` | ETA ${seconds(p.eta)}` : '';
      return `${options.label} [${'='.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${Math.floor(100 * p.progress)}% | ${p.value.toFixed(decimals)}/${p.total.toFixed(decimals)}${unit}${eta}${payload.status}`;
    },
    // Keep the terminal's own line wrapping (cli-progress turns it off by default, which
    // would cut the output lines printed while the bar is up); the bar line is cut instead.
    linewrap: true,
    // Redraw on every tick even without a new value: print() erases the bar line.
    forceRedraw: true,
    clearOnComplete: true,
    hideCursor: false,
  });
  const statusOf = (s: string | undefined) => ({ status: s ? ` | ${s}` : '' });
  let status = statusOf(undefined);
  let stopped = false;
  bar.start(options.total, 0, status);
  /** Lifts the bar for `write`, then draws it again on the line after what was written. */
  const lifted = (write: () => void) => {
    if (stopped) return write();
    stream.write(ERASE_LINE);
    write();
    // The bar's line is now below the output: cli-progress returns to the position saved
    // at start when it stops, so save this one instead.
    stream.write(SAVE_CURSOR);
    bar.render();
  };
  return {
    shown: true,
    update(done, s) {
      if (s !== undefined) status = statusOf(s);
      bar.update(done, status);
    },
    increment(by = 1, s) {
      if (s !== undefined) status = statusOf(s);
      bar.increment(by, status);
    },
    print(write) {
      if (stdoutIsTTY) lifted(write);
      else write();
    },
    note(text) {
      lifted(() => stream.write(text));
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
