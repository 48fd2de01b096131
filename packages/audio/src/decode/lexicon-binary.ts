/**
 * The binary form of a word lexicon (`words.lex` beside the shipped speech model): the
 * tables the text files are read into (words, unigram counts, the pair and triple rows), so
 * that loading skips parsing, string lookups and sorting. The text files
 * (`words.tsv`, `words.bigrams.tsv.gz`, `words.trigrams.tsv.gz`) stay the source; this form is
 * made from them (`rwkv-streams lexicon pack`) and holds exactly what reading them gives.
 *
 * Layout (gzip over the whole): the 8 bytes `rwkvlex1`; the word count and the words'
 * byte length (unsigned LEB128 varints), the words in UTF-8 joined by `\n`; the unigram counts;
 * a flags varint (1: pairs follow; 2: triples follow); then for the pairs and the triples in
 * turn: row lengths, followers (within a row ascending, stored as the gap to the one before
 * minus 1), counts, row totals. Each number array is a tag byte (0: varints of value + 1, 0
 * for "none" (NaN), for arrays of whole numbers; 1: little-endian float64), its length (varint)
 * and the values. The shipped lexicon (116,051 words, 485,464 pairs, 858,787 triples) takes
 * 2.6 MB this way against 8.5 MB of text.
 *
 * @module
 */
import { BadInputError, BadMagicError, TruncatedFileError } from '@rwkv-streams/core';

/** The first bytes of the binary form (after gunzip). */
const MAGIC = 'rwkvlex1';
const FLAG_PAIRS = 1;
const FLAG_TRIPLES = 2;
const TAG_VARINT = 0;
const TAG_FLOAT64 = 1;

/** Compressed rows of pair or triple counts, as {@link WordPairCounts} holds them. */
export interface CountRows {
  /** Row r's entries are `[rowStart[r], rowStart[r + 1])`. */
  readonly rowStart: Int32Array;
  /** Follower word ids, ascending within a row. */
  readonly next: Int32Array;
  readonly count: Float64Array;
  /** Per row: the history's total count (NaN: the history has no row). */
  readonly total: Float64Array;
}

/** What the binary form holds: the lexicon's tables before any scores are computed. */
export interface LexiconRows {
  readonly words: readonly string[];
  readonly counts: Float64Array;
  readonly pairs?: CountRows;
  /** Rows of the pairs' kept pairs (needs `pairs`). */
  readonly triples?: CountRows;
}

/** True when `bytes` start as gzip does (the binary form; the text files start with a word). */
export function looksLikeBinaryLexicon(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Growable byte buffer for the writer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
  }

  varint(v: number): void {
    this.room(8);
    // values reach 2^53 at most: division, not 32-bit shifts
    while (v >= 128) {
      this.buf[this.length++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.length++] = v;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  numbers(values: ArrayLike<number>): void {
    let whole = true;
    for (let i = 0; i < values.length && whole; i++) {
      const v = values[i]!;
      whole = Number.isNaN(v) || (Number.isInteger(v) && v >= 0 && v < 2 ** 53 - 1);
    }
    this.bytes(Uint8Array.of(whole ? TAG_VARINT : TAG_FLOAT64));
    this.varint(values.length);
    if (whole) {
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        this.varint(Number.isNaN(v) ? 0 : v + 1);
      }
      return;
    }
    const f = Float64Array.from(values);
    this.bytes(new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Serializes `rows` (see the module doc); the caller gzips. */
export function encodeLexiconRows(rows: LexiconRows): Uint8Array {
  const w = new ByteWriter();
  w.bytes(new TextEncoder().encode(MAGIC));
  const words = new TextEncoder().encode(rows.words.join('\n'));
  w.varint(rows.words.length);
  w.varint(words.length);
  w.bytes(words);
  w.numbers(rows.counts);
  w.varint((rows.pairs ? FLAG_PAIRS : 0) | (rows.triples ? FLAG_TRIPLES : 0));
  for (const part of [rows.pairs, rows.triples]) {
    if (!part) continue;
    const rowCount = part.total.length;
    const lengths = new Float64Array(rowCount);
    const gaps = new Float64Array(part.next.length);
    for (let r = 0; r < rowCount; r++) {
      lengths[r] = part.rowStart[r + 1]! - part.rowStart[r]!;
      let before = -1;
      for (let i = part.rowStart[r]!; i < part.rowStart[r + 1]!; i++) {
        gaps[i] = part.next[i]! - before - 1;
        before = part.next[i]!;
      }
    }
    w.numbers(lengths);
    w.numbers(gaps);
    w.numbers(part.count);
    w.numbers(part.total);
  }
  return w.finish();
}

/** Reads the binary form field by field; every failure names the file and what was read. */
class ByteReader {
  private at = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
  ) {}

  fail(what: string, problem: string): never {
    const where = { file: this.file, field: what, offset: this.at };
    const message = `${problem} (byte ${this.at} of ${this.bytes.length} unzipped)`;
    if (problem.startsWith('the file ends early')) throw new TruncatedFileError(message, where);
    throw new BadInputError(message, where);
  }

  varint(what: string): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (this.at >= this.bytes.length) this.fail(what, 'the file ends early');
      const b = this.bytes[this.at++]!;
      v += (b & 127) * scale;
      if (b < 128) return v;
      scale *= 128;
      if (scale > 2 ** 56) this.fail(what, 'a number longer than 8 bytes');
    }
  }

  take(n: number, what: string): Uint8Array {
    if (this.at + n > this.bytes.length) this.fail(what, 'the file ends early');
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /**
   * A number array of `expected` values into a new `Float64Array` (NaN where "none" was
   * stored) or, with `whole`, an `Int32Array` (where "none" and fractions are refused).
   */
  numbers(what: string, expected: number): Float64Array;
  numbers(what: string, expected: number, whole: true): Int32Array;
  numbers(what: string, expected: number, whole = false): Float64Array | Int32Array {
    const tag = this.take(1, what)[0]!;
    const n = this.varint(what);
    if (n !== expected) this.fail(what, `${n} values where ${expected} belong`);
    const out = whole ? new Int32Array(n) : new Float64Array(n);
    if (tag === TAG_FLOAT64) {
      const raw = this.take(8 * n, what);
      // copied: the slice may sit at an offset float64 cannot be viewed at
      const f = new Float64Array(n);
      new Uint8Array(f.buffer).set(raw);
      for (let i = 0; i < n; i++) {
        if (whole && !(Number.isInteger(f[i]) && f[i]! >= 0 && f[i]! < 2 ** 31))
          this.fail(what, `value ${i} is ${f[i]}, not a whole number`);
        out[i] = f[i]!;
      }
      return out;
    }
    if (tag !== TAG_VARINT) this.fail(what, `unknown number encoding ${tag}`);
    const bytes = this.bytes;
    const end = bytes.length;
    let at = this.at;
    // this loop reads every number of the file: one byte is the common case (values below 127)
    for (let i = 0; i < n; i++) {
      if (at >= end) {
        this.at = at;
        this.fail(what, `the file ends early, after ${i} of ${n} values`);
      }
      let b = bytes[at++]!;
      let v = b;
      if (b >= 128) {
        v = b & 127;
        let scale = 128;
        do {
          if (at >= end) {
            this.at = at;
            this.fail(what, 'the file ends early');
          }
          b = bytes[at++]!;
          v += (b & 127) * scale;
          scale *= 128;
        } while (b >= 128 && scale <= 2 ** 56);
        if (b >= 128) {
          this.at = at;
          this.fail(what, `value ${i} is longer than 8 bytes`);
        }
      }
      if (v === 0 || (whole && v > 2 ** 31)) {
        if (whole) {
          this.at = at;
          this.fail(what, v === 0 ? `value ${i} is missing` : `value ${i} is ${v - 1}, out of range`);
        }
        out[i] = Number.NaN;
      } else out[i] = v - 1;
    }
    this.at = at;
    return out;
  }

  end(): void {
    if (this.at !== this.bytes.length)
      this.fail('end', `${this.bytes.length - this.at} bytes after the tables`);
  }
}

/** Decodes the (gunzipped) binary form; `file` names it in errors. Checks every id and length. */
export function decodeLexiconRows(bytes: Uint8Array, file: string): LexiconRows {
  const r = new ByteReader(bytes, file);
  // a wrong start is named as such even in a file shorter than the magic
  const magic = new TextDecoder().decode(bytes.subarray(0, MAGIC.length));
  if (!MAGIC.startsWith(magic) || magic.length === 0)
    throw new BadMagicError(`expected '${MAGIC}', got '${magic}': not a binary word lexicon`, {
      file,
      field: 'header',
    });
  r.take(MAGIC.length, 'header');
  const n = r.varint('word count');
  const words = new TextDecoder().decode(r.take(r.varint('word bytes'), 'words'));
  const list = n === 0 ? [] : words.split('\n');
  if (list.length !== n) r.fail('words', `${list.length} words where the header says ${n}`);
  const counts = r.numbers('unigram counts', n);
  const flags = r.varint('flags');
  if (flags & ~(FLAG_PAIRS | FLAG_TRIPLES) || (flags & FLAG_TRIPLES && !(flags & FLAG_PAIRS)))
    r.fail('flags', `unknown flags ${flags}`);
  const rows = (what: string, rowCount: number): CountRows => {
    const lengths = r.numbers(`${what} row lengths`, rowCount, true);
    const rowStart = new Int32Array(rowCount + 1);
    for (let i = 0; i < rowCount; i++) {
      rowStart[i + 1] = rowStart[i]! + lengths[i]!;
      if (rowStart[i + 1]! < rowStart[i]!) r.fail(`${what} row lengths`, 'more entries than an index holds');
    }
    // the gaps are turned into follower ids in place
    const next = r.numbers(`${what} followers`, rowStart[rowCount]!, true);
    for (let row = 0; row < rowCount; row++) {
      let before = -1;
      for (let i = rowStart[row]!; i < rowStart[row + 1]!; i++) {
        const w = before + 1 + next[i]!;
        if (!(w < n)) r.fail(`${what} followers`, `row ${row} names word ${w} of ${n}`);
        next[i] = before = w;
      }
    }
    const count = r.numbers(`${what} counts`, next.length);
    for (let i = 0; i < count.length; i++)
      if (!(count[i]! > 0) || !Number.isFinite(count[i]!))
        r.fail(`${what} counts`, `count ${i} is ${count[i]}, not a positive number`);
    const total = r.numbers(`${what} totals`, rowCount);
    return { rowStart, next, count, total };
  };
  const pairs = flags & FLAG_PAIRS ? rows('pair', n + 1) : undefined;
  const triples = pairs && flags & FLAG_TRIPLES ? rows('triple', pairs.next.length) : undefined;
  r.end();
  return { words: list, counts, ...(pairs ? { pairs } : {}), ...(triples ? { triples } : {}) };
}
