import { BadInputError, ShapeMismatchError } from '@rwkv-streams/core';

/** One observation of one series: its key, its time, a value per channel. */
export interface Observation<K = string> {
  readonly key: K;
  readonly timestamp: number;
  readonly values: ArrayLike<number>;
}

/**
 * The latest `length` rows of every series, by key: what the streaming operators forecast
 * from. Observations of a series must come in time order; a wrong channel count or a time
 * going backwards is a typed error.
 */
export class SeriesWindows<K> {
  private readonly windows = new Map<K, { data: Float32Array; rows: number; last: number }>();

  constructor(
    readonly length: number,
    readonly channels: number,
  ) {}

  /** Adds an observation; returns a copy of its series' window once the window is full. */
  push(obs: Observation<K>): Float32Array | undefined {
    const { length: L, channels: C } = this;
    if (obs.values.length !== C)
      throw new ShapeMismatchError(
        `observation of '${String(obs.key)}' has ${obs.values.length} values, expected ${C}`,
        {
          field: 'values',
        },
      );
    let w = this.windows.get(obs.key);
    if (!w) {
      w = { data: new Float32Array(L * C), rows: 0, last: Number.NEGATIVE_INFINITY };
      this.windows.set(obs.key, w);
    }
    if (!(obs.timestamp > w.last))
      throw new BadInputError(
        `series '${String(obs.key)}': time ${obs.timestamp} does not come after ${w.last}`,
        {
          field: 'timestamp',
        },
      );
    w.last = obs.timestamp;
    if (w.rows === L) w.data.copyWithin(0, C); // drop the oldest row
    const row = Math.min(w.rows, L - 1);
    for (let c = 0; c < C; c++) w.data[row * C + c] = obs.values[c]!;
    w.rows = Math.min(w.rows + 1, L);
    return w.rows === L ? w.data.slice() : undefined;
  }
}
