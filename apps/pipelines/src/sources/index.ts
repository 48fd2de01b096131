/**
 * A pipeline file's source as an Observable of items.
 *
 * @module
 */
import { map, type Observable, timer, zip } from 'rxjs';
import type { PipelineItem } from '../items.js';
import type { SourceSpec } from '../schema.js';
import { pcmItems } from './audio.js';
import { fileItems } from './files.js';
import { lineItems } from './lines.js';
import { csvItems, jsonlItems } from './series.js';
import type { StdinSource } from './stream-input.js';

export type { StdinSource } from './stream-input.js';

/** An opened source. */
export interface OpenedSource {
  /** The items, in order. */
  readonly items: Observable<PipelineItem>;
  /** Channel names, for a CSV series (the forecast stages check them against their model). */
  readonly columns?: readonly string[];
}

/** Emits one item every `ms` (the first at once): a file replayed as a live source. */
function paced<T>(items: Observable<T>, ms: number | undefined): Observable<T> {
  return ms === undefined ? items : zip(items, timer(0, ms)).pipe(map(([item]) => item));
}

/**
 * Opens a source (paths already resolved). `dir` is the pipeline file's folder (ids are
 * paths relative to it); `stop` ends a `pcm` stream's reading (drain).
 */
export async function openSource(
  spec: SourceSpec,
  options: { readonly dir: string; readonly stdin: StdinSource; readonly stop: Observable<unknown> },
): Promise<OpenedSource> {
  switch (spec.type) {
    case 'images':
      return { items: paced(fileItems('image', spec.path, options.dir), spec.paceMs) };
    case 'wav':
      return { items: paced(fileItems('audio', spec.path, options.dir), spec.paceMs) };
    case 'pcm':
      return { items: pcmItems(spec, options.stdin, options.stop) };
    case 'csv': {
      const { items, columns } = await csvItems(spec);
      return { items: paced(items, spec.paceMs), columns };
    }
    case 'jsonl':
      return { items: paced(jsonlItems(spec, options.stdin), spec.paceMs) };
    case 'lines':
      return { items: paced(lineItems(spec, options.stdin), spec.paceMs) };
  }
}
