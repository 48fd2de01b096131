/**
 * Sources of observations: a `csv` series (one observation a row) and `jsonl` lines
 * (`{"key": "a", "timestamp": ..., "values": [...]}`, from a file or stdin).
 *
 * @module
 */
import { basename, extname } from 'node:path';
import { BadInputError } from '@rwkv-streams/core';
import { readSeriesCsv } from '@rwkv-streams/timeseries';
import { from, type Observable } from 'rxjs';
import { type ObservationItem, timeLabel } from '../items.js';
import type { SourceSpec } from '../schema.js';
import { fromIterable, linesOf, type StdinSource } from './stream-input.js';

const observation = (
  index: number,
  key: string,
  timestamp: number,
  isTime: boolean,
  values: Float32Array,
): ObservationItem => ({
  kind: 'observation',
  index,
  id: `${key}@${timeLabel({ timestamp, isTime })}`,
  key,
  timestamp,
  isTime,
  values,
});

/** The rows of a CSV series (read whole first: it validates every row), and its channel names. */
export async function csvItems(
  spec: Extract<SourceSpec, { type: 'csv' }>,
): Promise<{ items: Observable<ObservationItem>; columns: readonly string[] }> {
  const series = await readSeriesCsv(spec.path, {
    ...(spec.columns ? { columns: spec.columns } : {}),
    ...(spec.timeColumn !== undefined ? { timeColumn: spec.timeColumn } : {}),
  });
  const C = series.columns.length;
  const first = spec.lastRows === undefined ? 0 : Math.max(0, series.rows - spec.lastRows);
  const key = spec.key ?? basename(spec.path, extname(spec.path));
  const items = Array.from({ length: series.rows - first }, (_, i) => {
    const r = first + i;
    const time = series.timestamps?.[r];
    return observation(i, key, time ?? r, time !== undefined, series.values.slice(r * C, (r + 1) * C));
  });
  return { items: from(items), columns: series.columns };
}

/** Parses one JSON line; what is wrong with it is a BadInputError naming the file and line. */
function parseObservation(text: string, file: string, line: number, index: number): ObservationItem {
  const bad = (what: string) => new BadInputError(`line ${line}: ${what}`, { file });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw bad(`not JSON (${(err as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('expected an object');
  const { key, timestamp, values } = raw as Record<string, unknown>;
  if (key !== undefined && typeof key !== 'string') throw bad("'key' must be a string");
  if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'number'))
    throw bad("'values' must be a list of numbers");
  let time: number;
  let isTime = false;
  if (typeof timestamp === 'number') time = timestamp;
  else if (typeof timestamp === 'string' && !Number.isNaN(Date.parse(timestamp))) {
    time = Date.parse(timestamp);
    isTime = true;
  } else throw bad("'timestamp' must be a number or an ISO 8601 time");
  return observation(index, key ?? 'series', time, isTime, Float32Array.from(values as number[]));
}

/** Observations as their lines arrive (stdin is read live); blank lines are skipped. */
export function jsonlItems(
  spec: Extract<SourceSpec, { type: 'jsonl' }>,
  stdin: StdinSource,
): Observable<ObservationItem> {
  const file = spec.path === '-' ? '<stdin>' : spec.path;
  const { lines, close } = linesOf(spec.path, stdin);
  return fromIterable(
    (async function* () {
      let index = 0;
      for await (const { line, number } of lines)
        if (line.trim()) yield parseObservation(line, file, number, index++);
    })(),
    close,
  );
}
