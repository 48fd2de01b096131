import { MalformedFileError } from '@rwkv-streams/core';
import { loadSharp } from './load-sharp.js';
import { openImage } from './open-image.js';
import { describeInput, type ImageInput } from './preprocess-image.js';

/** Decoded pixels, EXIF orientation applied: [height, width, channels] bytes. */
export interface DecodedImage {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
}

/**
 * Decodes any format sharp reads, applies EXIF orientation and converts to greyscale (1)
 * or sRGB without alpha (3). A file that cannot be read or decoded is a
 * MalformedFileError naming it; an input of another type is a BadInputError.
 */
export async function decodeImage(input: ImageInput, channels: 1 | 3): Promise<DecodedImage> {
  const sharp = await loadSharp();
  const name = describeInput(input);
  const img = await openImage(input);
  try {
    const oriented = await img.rotate().raw().toBuffer({ resolveWithObject: true });
    const { width, height } = oriented.info;
    let p = sharp(oriented.data, { raw: { width, height, channels: oriented.info.channels } });
    p = channels === 1 ? p.toColourspace('b-w').extractChannel(0) : p.removeAlpha().toColourspace('srgb');
    const { data, info } = await p.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels || info.width !== width || info.height !== height)
      throw new MalformedFileError(`${name}: decoded to ${info.width}x${info.height}x${info.channels}`, {
        file: name,
      });
    return { data, width, height, channels };
  } catch (e) {
    if (e instanceof MalformedFileError) throw e;
    throw new MalformedFileError(`cannot decode image: ${(e as Error).message}`, { file: name });
  }
}
