/**
 * Sources of files named in the pipeline file: `images` and `wav` (paths, folders, patterns).
 *
 * @module
 */
import { relative } from 'node:path';
import { IMAGE_FILE_EXTENSIONS } from '@rwkv-streams/vision';
import { from, type Observable } from 'rxjs';
import type { AudioItem, ImageItem } from '../items.js';
import { expandPath, WAV_EXTENSIONS } from '../paths.js';

/**
 * How an item's id is written: the path relative to the pipeline file's folder (as the file
 * names it, and the same on every machine), or the absolute path when that is shorter (a
 * file far outside the folder).
 */
export const idOfPath = (dir: string, path: string): string => {
  const rel = relative(dir, path);
  return rel === '' || rel.length > path.length ? path : rel;
};

/** The image or WAV files of `paths` (already resolved), in order. */
export function fileItems(
  kind: 'image' | 'audio',
  paths: string | readonly string[],
  dir: string,
): Observable<ImageItem | AudioItem> {
  const extensions = kind === 'image' ? IMAGE_FILE_EXTENSIONS : WAV_EXTENSIONS;
  const files = (Array.isArray(paths) ? paths : [paths]).flatMap(
    (p: string) => expandPath(p, extensions).files,
  );
  return from(files.map((path, index) => ({ kind, index, id: idOfPath(dir, path), path })));
}
