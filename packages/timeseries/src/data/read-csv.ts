import { createReadStream, existsSync } from 'node:fs';
import { BadInputError, FileNotFoundError, MalformedFileError } from '@rwkv-streams/core';
import { parse } from 'csv-parse';

/** A multichannel series: rows in time order, one column per channel. */
export interface Series {
  /** Channel names (the CSV header, time column excluded). */
  readonly columns: readonly string[];
  /** Milliseconds since the epoch per row (absent without a time column). */
  readonly timestamps?: Float64Array;
  /** [rows, channels] row-major. */
  readonly values: Float32Array;
  readonly rows: number;
}

/** How a CSV becomes a series. */
export interface ReadCsvOptions {
  /** The time column (default 'date' when the header has one; null: no time column). */
  readonly timeColumn?: string | null;
  /** Channels to keep, in this order (default: every column but the time column). */
  readonly columns?: readonly string[];
  /**
   * Missing cells (empty, NA, NaN, null): 'forward-fill' (default) repeats the channel's
   * previous value (a missing first value is an error: there is nothing to repeat), 'error'
   * refuses them.
   */
  readonly missing?: 'forward-fill' | 'error';
}

const MISSING = new Set(['', 'na', 'nan', 'null', 'none']);

/**
 * Reads a CSV with a header row, streaming (files larger than memory are fine: only the
 * numbers are kept). Timestamps must strictly increase (irregular spacing is allowed and
 * kept: the model sees rows, not times). Every problem is a typed error naming the row
 * (1-based, header = row 1) and the column: a non-numeric cell, an unparsable or
 * non-increasing timestamp, a ragged row, a missing value it may not fill.
 */
export async function readSeriesCsv(path: string, options: ReadCsvOptions = {}): Promise<Series> {
  if (!existsSync(path)) throw new FileNotFoundError(`CSV file not found: ${path}`, { file: path });
  const parser = createReadStream(path).pipe(
    parse({ relax_column_count: true, trim: true, skip_empty_lines: true }),
  );
  let header: string[] | undefined;
  let timeIndex = -1;
  let picks: number[] = [];
  let chunk = new Float32Array(1 << 16);
  let used = 0;
  const times: number[] = [];
  let rows = 0;
  let row = 0;
  const missingPolicy = options.missing ?? 'forward-fill';
  for await (const record of parser as AsyncIterable<string[]>) {
    row++;
    if (!header) {
      header = record;
      const wantTime =
        options.timeColumn === undefined ? (record.includes('date') ? 'date' : null) : options.timeColumn;
      if (wantTime !== null) {
        timeIndex = record.indexOf(wantTime);
        if (timeIndex < 0)
          throw new BadInputError(`no time column '${wantTime}' in the header (${record.join(', ')})`, {
            file: path,
            field: wantTime,
          });
      }
      const names = options.columns ?? record.filter((_, i) => i !== timeIndex);
      picks = names.map((n) => {
        const i = record.indexOf(n);
        if (i < 0)
          throw new BadInputError(`no column '${n}' in the header (${record.join(', ')})`, {
            file: path,
            field: n,
          });
        return i;
      });
      if (picks.length === 0) throw new BadInputError('the CSV has no value columns', { file: path });
      continue;
    }
    if (record.length !== header.length)
      throw new MalformedFileError(`row ${row} has ${record.length} cells, the header has ${header.length}`, {
        file: path,
        field: `row ${row}`,
      });
    if (timeIndex >= 0) {
      const cell = record[timeIndex]!;
      const t = Date.parse(/^\d{4}-\d\d-\d\d \d/.test(cell) ? `${cell.replace(' ', 'T')}Z` : cell);
      if (Number.isNaN(t))
        throw new MalformedFileError(`row ${row}, column '${header[timeIndex]}': '${cell}' is not a time`, {
          file: path,
          field: header[timeIndex]!,
        });
      if (times.length > 0 && t <= times[times.length - 1]!)
        throw new MalformedFileError(
          `row ${row}, column '${header[timeIndex]}': ${cell} does not come after the previous row's time (rows must be in increasing time)`,
          { file: path, field: header[timeIndex]! },
        );
      times.push(t);
    }
    if (used + picks.length > chunk.length) {
      const bigger = new Float32Array(chunk.length * 2);
      bigger.set(chunk);
      chunk = bigger;
    }
    picks.forEach((col, c) => {
      const cell = record[col]!;
      let v: number;
      if (MISSING.has(cell.toLowerCase())) {
        if (missingPolicy === 'error' || rows === 0)
          throw new MalformedFileError(
            `row ${row}, column '${header![col]}': missing value${rows === 0 ? ' in the first row (nothing to fill it from)' : ''}`,
            { file: path, field: header![col]! },
          );
        v = chunk[used - picks.length + c]!;
      } else {
        v = Number(cell);
        if (!Number.isFinite(v))
          throw new MalformedFileError(`row ${row}, column '${header![col]}': '${cell}' is not a number`, {
            file: path,
            field: header![col]!,
          });
      }
      chunk[used + c] = v;
    });
    used += picks.length;
    rows++;
  }
  if (!header) throw new MalformedFileError('the CSV is empty', { file: path });
  return {
    columns: picks.map((i) => header![i]!),
    ...(timeIndex >= 0 ? { timestamps: Float64Array.from(times) } : {}),
    values: chunk.slice(0, used),
    rows,
  };
}
