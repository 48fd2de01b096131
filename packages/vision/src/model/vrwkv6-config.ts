/**
 * A VRWKV6 (Vision-RWKV with RWKV-6 blocks) backbone's sizes and switches, as the official
 * `VRWKV6` class takes them. Everything but `postNorm` (and `shiftPixel`) is read off a
 * checkpoint's shapes. `version: 6` tells it from a VRWKV (RWKV-4 style) `VrwkvConfig`.
 */
export interface Vrwkv6Config {
  readonly version: 6;
  /** Channels per token (embed_dims). */
  readonly embedDims: number;
  /** WKV heads (num_heads); head size = embedDims / numHeads (64 in the official code). */
  readonly numHeads: number;
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
  /** A class token appended after the patches (with_cls_token; it is not Q-shifted). */
  readonly withClsToken: boolean;
  /** Q-Shift distance in patches (shift_pixel; each head's channel quarters move). */
  readonly shiftPixel: number;
  /** Rank of the ddlerp LoRA (TIME_MIX_EXTRA_DIM, 32) and of the decay LoRA (64). */
  readonly mixLoraDim: number;
  readonly decayLoraDim: number;
  /** Classes of a linear classification head on average-pooled patch features (0: none). */
  readonly numClasses: number;
}
