/**
 * Tab-separated lines of the lexicon files, read without splitting the whole text first.
 *
 * @module
 */

/**
 * Calls `line` for each line of `text` that is not blank: with its `fields` tab-separated
 * columns, or with `undefined` when it has another number of them (the caller names the
 * problem, with `raw`, the line as written, and its 1-based number).
 */
export function forEachTsvLine(
  text: string,
  fields: number,
  line: (columns: string[] | undefined, lineNo: number, raw: () => string) => void,
): void {
  let lineNo = 0;
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const raw = (): string => text.slice(start, end);
    const columns: string[] = [];
    let from = start;
    for (let tab = text.indexOf('\t', from); tab >= 0 && tab < end && columns.length < fields; ) {
      columns.push(text.slice(from, tab));
      from = tab + 1;
      tab = text.indexOf('\t', from);
    }
    columns.push(text.slice(from, end));
    if (columns.length === fields) line(columns, lineNo, raw);
    else if (raw().trim() !== '') line(undefined, lineNo, raw);
    start = end + 1;
  }
}
