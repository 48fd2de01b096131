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
} from './model/load-vrwkv.js';
export { qShift } from './model/q-shift.js';
export { resizePosEmbed } from './model/resize-pos-embed.js';
export { buildVrwkvGraph, VRWKV_IO } from './model/vrwkv-graph.js';
export { VrwkvModel, type VrwkvModelOptions, type VrwkvOutput } from './model/vrwkv-model.js';
export {
  type ClassifyOptions,
  type ClassifyResult,
  type ClassScore,
  classify,
} from './operators/classify.js';
export { loadLabels } from './operators/labels.js';
export {
  describeInput,
  IMAGENET,
  type ImageInput,
  type PreprocessedImage,
  type PreprocessSpec,
  preprocessImage,
} from './preprocess/preprocess-image.js';
