/**
 * File name extensions of the image formats sharp reads (its prebuilt libvips: PNG, JPEG,
 * WebP, GIF, TIFF, AVIF/HEIF, SVG): what a folder of images yields when the CLI or a
 * pipeline file names the folder. A file named directly is tried whatever its extension.
 */
export const IMAGE_FILE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.png',
  '.jpg',
  '.jpeg',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
  '.heic',
  '.heif',
  '.svg',
]);
