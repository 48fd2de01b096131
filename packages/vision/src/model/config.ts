/**
 * A VRWKV (Vision-RWKV, RWKV-4 style) backbone's sizes and switches, as the official
 * `VRWKV` class takes them. Everything but `postNorm` is read off a checkpoint's shapes.
 */
export interface VrwkvConfig {
  /** Channels per token (embed_dims). */
  readonly embedDims: number;
  /** Blocks (depth). */
  readonly depth: number;
  /** Pixels per patch side (the patch embedding's kernel and stride). */
  readonly patchSize: number;
  /** Image channels (3 for RGB). */
  readonly inChannels: number;
  /** Patch grid the position embedding was trained for: [rows, columns]. */
  readonly patchResolution: readonly [number, number];
  /** FFN width / embedDims (hidden_rate). */
  readonly hiddenRate: number;
  /** LayerNorm after the WKV and after the FFN key (key_norm). */
  readonly keyNorm: boolean;
  /** Per-block layer scale (gamma1, gamma2: init_values was set). */
  readonly layerScale: boolean;
  /** Norm after each branch instead of before (post_norm; not visible in weights). */
  readonly postNorm: boolean;
  /** A LayerNorm after the last block (final_norm). */
  readonly finalNorm: boolean;
  /** Channels shifted in each of the four directions by Q-Shift (channel_gamma). */
  readonly channelGamma: number;
  /** Q-Shift distance in patches (shift_pixel). */
  readonly shiftPixel: number;
  /** Classes of a linear classification head on average-pooled features (0: none). */
  readonly numClasses: number;
}
