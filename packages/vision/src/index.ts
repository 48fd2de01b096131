/**
 * @rwkv-streams/vision: Vision-RWKV (VRWKV) backbones on the rwkv-streams runtime:
 * official checkpoints loaded by name, any input resolution (position embedding resized),
 * the bidirectional WKV run by every backend in linear time.
 */

export { predictRaw, type RawImageSet, readRawImageSet } from './eval/raw-images.js';
export type { VrwkvConfig } from './model/config.js';
export {
  loadVrwkvWeights,
  type VrwkvLoadOptions,
  type VrwkvWeights,
  vrwkvFromWeights,
  vrwkvTensorShapes,
} from './model/load-vrwkv.js';
export {
  isVrwkv6Weights,
  loadVisionRwkvWeights,
  loadVrwkv6Weights,
  type Vrwkv6LoadOptions,
  type Vrwkv6Weights,
  vrwkv6FromWeights,
} from './model/load-vrwkv6.js';
export { readVisionModelCard, type VisionModelCard } from './model/model-card.js';
export { embedPatches, type PatchEmbedSizes } from './model/patch-embed.js';
export { qShift } from './model/q-shift.js';
export { qShiftMultihead } from './model/q-shift-multihead.js';
export { randomVrwkvWeights, VRWKV_SIZES } from './model/random-vrwkv-weights.js';
export { resizePosEmbed } from './model/resize-pos-embed.js';
export { buildVrwkvGraph, VRWKV_IO } from './model/vrwkv-graph.js';
export { VrwkvModel, type VrwkvModelOptions, type VrwkvOutput } from './model/vrwkv-model.js';
export type { Vrwkv6Config } from './model/vrwkv6-config.js';
export { buildVrwkv6Graph } from './model/vrwkv6-graph.js';
export {
  type ClassifyOptions,
  type ClassifyResult,
  type ClassScore,
  classify,
} from './operators/classify.js';
export { loadLabels } from './operators/labels.js';
export {
  type FoundClass,
  type SegmentOptions,
  type SegmentPreprocessSpec,
  type SegmentResult,
  segment,
} from './operators/segment.js';
export { type ClassMask, writeMaskPng, writeOverlayPng } from './output/mask-png.js';
export { classPalette, type Rgb } from './output/palette.js';
export { type DecodedImage, decodeImage } from './preprocess/decode-image.js';
export { IMAGE_FILE_EXTENSIONS } from './preprocess/image-extensions.js';
export {
  type LetterboxBox,
  type LetterboxedImage,
  type LetterboxSpec,
  letterboxBox,
  letterboxImage,
  unletterboxMask,
} from './preprocess/letterbox.js';
export {
  describeInput,
  IMAGENET,
  type ImageInput,
  type PreprocessedImage,
  type PreprocessSpec,
  preprocessImage,
} from './preprocess/preprocess-image.js';
export { stitchTileMasks, type TiledImage, tileImage } from './preprocess/tile.js';
export type { VrwkvSegConfig } from './segmentation/config.js';
export { type DecodeHeadSizes, decodeHead } from './segmentation/decode-head.js';
export {
  loadVrwkvSegmenter,
  type VrwkvSegWeights,
  vrwkvSegFromWeights,
} from './segmentation/load-segmenter.js';
export { argmaxMask, Confusion, classCounts } from './segmentation/metrics.js';
export { readSceneSet, type SceneSet, segmentScenes } from './segmentation/scene-set.js';
export { buildVrwkvSegGraph, SEG_IO } from './segmentation/seg-graph.js';
export { type SegOutput, VrwkvSegmenter } from './segmentation/vrwkv-segmenter.js';
