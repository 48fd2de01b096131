import { BadInputError } from '@rwkv-streams/core';

/** Index of the blank symbol (CTC blank; the transducer's "no symbol this frame"). */
export const BLANK = 0;

/**
 * The character alphabet of the speech models: blank, space, apostrophe and the 26 lower-case
 * letters (29 symbols). Text in other characters is normalised by `normalizeText` first.
 */
export class CharVocabulary {
  /** Symbols by id; id 0 is the blank (shown as ''). */
  readonly symbols: readonly string[] = ['', ' ', "'", ...'abcdefghijklmnopqrstuvwxyz'];
  /** Id of the space symbol (word boundary). */
  readonly space = 1;
  private readonly ids = new Map(this.symbols.map((s, i) => [s, i] as const));

  /** Number of symbols including the blank. */
  get size(): number {
    return this.symbols.length;
  }

  /** Ids of a text already in the alphabet; anything else is a typed error naming it. */
  encode(text: string): number[] {
    return [...text].map((ch, i) => {
      const id = this.ids.get(ch);
      if (id === undefined || id === BLANK)
        throw new BadInputError(
          `character ${JSON.stringify(ch)} at offset ${i} is not in the alphabet (a-z, space, apostrophe); normalise the text first`,
          { field: 'text', offset: i },
        );
      return id;
    });
  }

  /** Text of ids (blanks are dropped). */
  decode(ids: readonly number[]): string {
    let out = '';
    for (const id of ids) {
      const s = this.symbols[id];
      if (s === undefined)
        throw new BadInputError(`token id ${id} is outside the alphabet of ${this.size}`, { field: 'ids' });
      out += s;
    }
    return out;
  }
}

/**
 * Text as the models spell it: lower case, letters, apostrophes and single spaces only
 * (other characters become spaces; leading/trailing spaces removed).
 */
export function normalizeText(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[’‘`]/g, "'")
    .replace(/[^a-z' ]+/g, ' ')
    .replace(/ +/g, ' ')
    .trim();
}
