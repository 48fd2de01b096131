import type { IncomingMessage } from 'node:http';
import sharp from 'sharp';
import type { StudioContext } from './context.js';
import { HttpError, readBody, uploadName } from './http.js';
import { describeBytes, type ImageKind, sniffImage } from './sniff.js';

/** An uploaded image that passed the checks: its bytes, its format and its size. */
export interface ImageUpload {
  readonly bytes: Buffer;
  /** The name the page sent (for messages), or "the image". */
  readonly name: string;
  readonly kind: ImageKind;
  readonly width: number;
  readonly height: number;
}

/**
 * Reads and checks an image upload before any model sees it: at most the upload limit
 * (413), an image format by its bytes (415), a readable header (422) and at most the
 * pixel limit (422; a small file may hold a huge image).
 */
export async function readImageUpload(
  req: IncomingMessage,
  url: URL,
  ctx: StudioContext,
): Promise<ImageUpload> {
  const bytes = await readBody(req, ctx.limits.maxUploadBytes);
  const name = uploadName(url, 'the image');
  const kind = sniffImage(bytes);
  if (!kind)
    throw new HttpError(
      415,
      `${name} is not an image the studio reads (PNG, JPEG, GIF, WebP, TIFF or AVIF); it looks like ${describeBytes(bytes)}`,
      'UNSUPPORTED_TYPE',
    );
  let width: number | undefined;
  let height: number | undefined;
  try {
    ({ width, height } = await sharp(bytes).metadata());
  } catch (err) {
    throw new HttpError(
      422,
      `${name}: cannot read the ${kind.toUpperCase()} image (${(err as Error).message})`,
      'MALFORMED_FILE',
    );
  }
  if (!width || !height) throw new HttpError(422, `${name}: the image has no size`, 'MALFORMED_FILE');
  if (width * height > ctx.limits.maxImagePixels)
    throw new HttpError(
      422,
      `${name} is ${width}x${height} pixels; the studio takes images of at most ${ctx.limits.maxImagePixels} pixels (e.g. ${Math.floor(Math.sqrt(ctx.limits.maxImagePixels))}x${Math.floor(Math.sqrt(ctx.limits.maxImagePixels))})`,
      'IMAGE_TOO_LARGE',
    );
  return { bytes, name, kind, width, height };
}
