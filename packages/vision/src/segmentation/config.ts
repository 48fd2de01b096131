import type { VrwkvConfig } from '../model/config.js';

/**
 * A VRWKV segmenter: the backbone's config and its per-patch decode head
 * (`decode_head.fc1`: [token, the patch's input pixels] -> hidden, ReLU,
 * `decode_head.fc2`: hidden -> patchSize^2 pixels x classes).
 */
export interface VrwkvSegConfig {
  readonly backbone: VrwkvConfig;
  /** Width of the head's hidden layer. */
  readonly headHidden: number;
  /** Classes per pixel (background included). */
  readonly numClasses: number;
}
