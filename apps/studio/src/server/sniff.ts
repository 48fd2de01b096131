/**
 * Content sniffing: what an upload is, from its first bytes, whatever name or type the
 * browser gave it (a renamed file must not reach a decoder that does not expect it).
 */

/** Image formats the studio passes to the vision models (all read by sharp). */
export type ImageKind = 'png' | 'jpeg' | 'gif' | 'webp' | 'tiff' | 'avif';

const startsWith = (b: Uint8Array, bytes: readonly number[], at = 0) =>
  b.length >= at + bytes.length && bytes.every((v, i) => b[at + i] === v);
const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, to));

/** The image format of `bytes` by magic number, or undefined when it is none we take. */
export function sniffImage(bytes: Uint8Array): ImageKind | undefined {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'webp';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]))
    return 'tiff';
  if (ascii(bytes, 4, 8) === 'ftyp' && /^avi[fs]$/.test(ascii(bytes, 8, 12))) return 'avif';
  return undefined;
}

/** A short description of what the bytes look like instead, for a 415 message. */
export function describeBytes(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'an empty file';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WAVE') return 'a WAV file';
  if (ascii(bytes, 0, 4) === '%PDF') return 'a PDF';
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return 'a ZIP archive';
  if (startsWith(bytes, [0x1f, 0x8b])) return 'a gzip file';
  if (sniffImage(bytes)) return `a ${sniffImage(bytes)!.toUpperCase()} image`;
  if (textOf(bytes) !== undefined) return 'text';
  return 'binary data of an unknown kind';
}

/**
 * The bytes as UTF-8 text when they are text (valid UTF-8, no NUL or other control bytes
 * but tab, CR and LF), else undefined.
 */
export function textOf(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we look for
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(text) ? undefined : text.replace(/^\uFEFF/, '');
}
