import { describe, expect, it } from 'vitest';
import { describeBytes, sniffImage, textOf } from './sniff.js';

/** Content sniffing: formats by their bytes, whatever the name says. */
describe('sniffing', () => {
  const b = (...parts: (string | number[])[]) =>
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

  it('knows each image format by its magic number', () => {
    expect(sniffImage(b([0x89], 'PNG\r\n\x1a\n', 'rest'))).toBe('png');
    expect(sniffImage(b([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg');
    expect(sniffImage(b('GIF89a...'))).toBe('gif');
    expect(sniffImage(b('RIFF', [1, 2, 3, 4], 'WEBPVP8 '))).toBe('webp');
    expect(sniffImage(b([0x49, 0x49, 0x2a, 0x00]))).toBe('tiff');
    expect(sniffImage(b([0, 0, 0, 0x1c], 'ftypavif'))).toBe('avif');
    expect(sniffImage(b([0x89], 'PN'))).toBeUndefined();
    expect(sniffImage(b('RIFF', [1, 2, 3, 4], 'WAVEfmt '))).toBeUndefined();
    expect(sniffImage(new Uint8Array(0))).toBeUndefined();
  });

  it('says what other bytes look like', () => {
    expect(describeBytes(b('RIFF', [1, 2, 3, 4], 'WAVEfmt '))).toBe('a WAV file');
    expect(describeBytes(b('%PDF-1.7'))).toBe('a PDF');
    expect(describeBytes(b([0x50, 0x4b, 3, 4]))).toBe('a ZIP archive');
    expect(describeBytes(b([0x1f, 0x8b, 8]))).toBe('a gzip file');
    expect(describeBytes(b([0xff, 0xd8, 0xff]))).toBe('a JPEG image');
    expect(describeBytes(b('date,a\n1,2\n'))).toBe('text');
    expect(describeBytes(b([0, 1, 2]))).toBe('binary data of an unknown kind');
    expect(describeBytes(new Uint8Array(0))).toBe('an empty file');
  });

  it('takes UTF-8 text without control bytes (a BOM dropped), nothing else', () => {
    expect(textOf(Buffer.from('\uFEFFdate,é\r\n1,\t2\n'))).toBe('date,é\r\n1,\t2\n');
    expect(textOf(b('a,b\n', [0], '\n'))).toBeUndefined();
    expect(textOf(b([0xc3, 0x28]))).toBeUndefined(); // invalid UTF-8
  });
});
