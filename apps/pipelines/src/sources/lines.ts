/**
 * The `lines` source: paths of images or WAV files, one a line (a file, or stdin as they
 * arrive: `find photos -name '*.jpg' | rwkv-streams run classify-lines.yaml`).
 *
 * @module
 */
import { resolve } from 'node:path';
import type { Observable } from 'rxjs';
import type { AudioItem, ImageItem } from '../items.js';
import type { SourceSpec } from '../schema.js';
import { fromIterable, linesOf, type StdinSource } from './stream-input.js';

/** One item per non-blank line; relative paths resolve against the working folder (where `find` ran). */
export function lineItems(
  spec: Extract<SourceSpec, { type: 'lines' }>,
  stdin: StdinSource,
): Observable<ImageItem | AudioItem> {
  const kind = spec.of === 'images' ? 'image' : 'audio';
  const { lines, close } = linesOf(spec.path, stdin);
  return fromIterable(
    (async function* () {
      let index = 0;
      for await (const { line } of lines) {
        const id = line.trim();
        if (id) yield { kind, index: index++, id, path: resolve(id) } as ImageItem | AudioItem;
      }
    })(),
    close,
  );
}
