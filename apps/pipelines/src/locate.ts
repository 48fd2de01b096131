/**
 * Where a field is written in a pipeline file: a path of keys and indices mapped to the
 * line and column of its node in the parsed YAML document (JSON files are parsed by the
 * same YAML parser for this: JSON is YAML 1.2 flow syntax).
 *
 * @module
 */
import { type Document, isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';

/** A field's path, as zod reports it. */
export type FieldPath = readonly PropertyKey[];

/** `stages[1].model`; `(top level)` for the empty path. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  return out || '(top level)';
}

/** A line and column, 1-based; 0:0 when the file gives no position (an object passed in by a program). */
export interface Position {
  readonly line: number;
  readonly col: number;
}

/** Finds fields' positions in one parsed document. */
export class FieldLocator {
  constructor(
    private readonly doc: Document.Parsed | undefined,
    private readonly lines: LineCounter | undefined,
  ) {}

  /** A locator with no document (every position 0:0). */
  static none(): FieldLocator {
    return new FieldLocator(undefined, undefined);
  }

  /**
   * The position of the value at `path`; `key: true` gives its key's position instead (for
   * an unknown key). A path that is not in the file (a missing field) gives the position of
   * the deepest object on the way that is: the object the field is missing from.
   */
  locate(path: FieldPath, options: { readonly key?: boolean } = {}): Position {
    if (!this.doc || !this.lines) return { line: 0, col: 0 };
    let node: Node | null | undefined = this.doc.contents;
    let at = node?.range?.[0] ?? 0;
    for (let i = 0; i < path.length && node; i++) {
      const step = path[i]!;
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step));
        if (!pair) break;
        const last = i === path.length - 1;
        if (last && options.key && isScalar(pair.key)) {
          at = pair.key.range?.[0] ?? at;
          break;
        }
        node = pair.value as Node | null;
        // a key with no value (`model:`) is located at its key
        at = node?.range?.[0] ?? (isScalar(pair.key) ? (pair.key.range?.[0] ?? at) : at);
      } else if (isSeq(node) && typeof step === 'number') {
        const item = node.items[step] as Node | undefined;
        if (!item) break;
        node = item;
        at = item.range?.[0] ?? at;
      } else break;
    }
    const { line, col } = this.lines.linePos(at);
    return { line, col };
  }
}
