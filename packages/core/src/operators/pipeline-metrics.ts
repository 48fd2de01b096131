import { BadInputError } from '../errors.js';

/** What a stage has done so far (see {@link PipelineMetrics.snapshot}). */
export interface StageSnapshot {
  /** The stage's name. */
  readonly stage: string;
  /** Items that entered the stage. */
  readonly itemsIn: number;
  /** Items the stage emitted. */
  readonly itemsOut: number;
  /** Items the stage answered with no result (stages matched by key; see `metrics()`). */
  readonly dropped: number;
  /** Errors the stage's stream ended with (0 or 1 per subscription). */
  readonly errors: number;
  /** Items inside the stage now (entered, neither out nor dropped: its queue depth). */
  readonly inFlight: number;
  /** The most items inside the stage at once. */
  readonly maxInFlight: number;
  /** Items out per second, from the first item in to the last item out. */
  readonly throughput: number;
  /** Seconds from an item's entry to its result (one-to-one stages), over the recent window. */
  readonly latency: {
    readonly count: number;
    readonly sum: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  };
}

/** Options of {@link PipelineMetrics}. */
export interface PipelineMetricsOptions {
  /** Latencies kept per stage for the quantiles (the most recent; default 1024). */
  readonly window?: number;
  /** The clock, in milliseconds (default `performance.now`; tests pass their own). */
  readonly now?: () => number;
}

/** The counters of one stage; `metrics()` records into it. */
export class StageRecorder {
  itemsIn = 0;
  itemsOut = 0;
  dropped = 0;
  errors = 0;
  maxInFlight = 0;
  /** Sum and count of every latency, and the recent ones for the quantiles. */
  latencySum = 0;
  latencyCount = 0;
  private readonly recent: number[] = [];
  private firstIn: number | undefined;
  private lastOut: number | undefined;

  /** @internal made by PipelineMetrics.stage */
  constructor(
    readonly stage: string,
    private readonly window: number,
    readonly now: () => number,
  ) {}

  /** An item entered; returns its entry time. */
  enter(): number {
    const t = this.now();
    this.firstIn ??= t;
    this.itemsIn++;
    this.maxInFlight = Math.max(this.maxInFlight, this.itemsIn - this.itemsOut - this.dropped);
    return t;
  }

  /** An item came out; `enteredAt` (ms) when it is known which input it answers. */
  leave(enteredAt?: number): void {
    const t = this.now();
    this.itemsOut++;
    this.lastOut = t;
    if (enteredAt !== undefined) {
      const s = (t - enteredAt) / 1000;
      this.latencySum += s;
      this.latencyCount++;
      this.recent.push(s);
      if (this.recent.length > this.window) this.recent.shift();
    }
  }

  /** The stage's figures now. */
  snapshot(): StageSnapshot {
    const sorted = [...this.recent].sort((a, b) => a - b);
    const q = (p: number) =>
      sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0;
    const span =
      this.firstIn !== undefined && this.lastOut !== undefined ? (this.lastOut - this.firstIn) / 1000 : 0;
    return {
      stage: this.stage,
      itemsIn: this.itemsIn,
      itemsOut: this.itemsOut,
      dropped: this.dropped,
      errors: this.errors,
      inFlight: Math.max(0, this.itemsIn - this.itemsOut - this.dropped),
      maxInFlight: this.maxInFlight,
      throughput: span > 0 ? this.itemsOut / span : 0,
      latency: {
        count: this.latencyCount,
        sum: this.latencySum,
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        max: sorted.length ? sorted[sorted.length - 1]! : 0,
      },
    };
  }
}

/** Integers as they are; other values to 6 significant digits (no float noise in the text). */
const num = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6))));

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * Per-stage figures of a pipeline: items in and out, errors, queue depth (items inside a
 * stage), throughput and latency quantiles, filled by the {@link metrics} operator and read
 * as values (`snapshot()`) or as Prometheus text exposition format (`toPrometheus()`, what
 * a `/metrics` endpoint serves).
 */
export class PipelineMetrics {
  private readonly stages = new Map<string, StageRecorder>();
  private readonly window: number;
  private readonly now: () => number;

  constructor(options: PipelineMetricsOptions = {}) {
    this.window = options.window ?? 1024;
    if (!Number.isInteger(this.window) || this.window < 1)
      throw new BadInputError(`window must be an integer >= 1, got ${this.window}`, { field: 'window' });
    this.now = options.now ?? (() => performance.now());
  }

  /** The recorder of stage `name` (made on first use; names are unique per registry). */
  stage(name: string): StageRecorder {
    if (name.length === 0) throw new BadInputError('a stage needs a name', { field: 'stage' });
    let s = this.stages.get(name);
    if (!s) {
      s = new StageRecorder(name, this.window, this.now);
      this.stages.set(name, s);
    }
    return s;
  }

  /** Every stage's figures, in the order the stages were first used. */
  snapshot(): StageSnapshot[] {
    return [...this.stages.values()].map((s) => s.snapshot());
  }

  /** Prometheus text exposition format (version 0.0.4), metric names under `prefix`. */
  toPrometheus(prefix = 'rwkv_streams'): string {
    const snaps = this.snapshot();
    const lines: string[] = [];
    const family = (
      name: string,
      type: 'counter' | 'gauge' | 'summary',
      help: string,
      rows: (s: StageSnapshot) => [string, number][],
    ) => {
      lines.push(`# HELP ${prefix}_${name} ${help}`, `# TYPE ${prefix}_${name} ${type}`);
      for (const s of snaps)
        for (const [suffixAndLabels, v] of rows(s))
          lines.push(`${prefix}_${name}${suffixAndLabels} ${num(v)}`);
    };
    const l = (s: StageSnapshot, extra = '') => `{stage="${escapeLabel(s.stage)}"${extra}}`;
    family('stage_items_in_total', 'counter', 'Items that entered the stage.', (s) => [[l(s), s.itemsIn]]);
    family('stage_items_out_total', 'counter', 'Items the stage emitted.', (s) => [[l(s), s.itemsOut]]);
    family('stage_items_dropped_total', 'counter', 'Items the stage answered with no result.', (s) => [
      [l(s), s.dropped],
    ]);
    family('stage_errors_total', 'counter', 'Errors the stage ended with.', (s) => [[l(s), s.errors]]);
    family('stage_in_flight', 'gauge', 'Items inside the stage (queue depth).', (s) => [[l(s), s.inFlight]]);
    family('stage_latency_seconds', 'summary', 'Seconds from entry to result, per item.', (s) => [
      [l(s, ',quantile="0.5"'), s.latency.p50],
      [l(s, ',quantile="0.9"'), s.latency.p90],
      [l(s, ',quantile="0.99"'), s.latency.p99],
      [`_sum${l(s)}`, s.latency.sum],
      [`_count${l(s)}`, s.latency.count],
    ]);
    return `${lines.join('\n')}\n`;
  }
}
