/** RWKV architecture versions the core implements. `5` is RWKV-5.2 (Eagle). */
export type RwkvVersion = 4 | 5 | 6 | 7;

/**
 * The sizes that determine an RWKV model's graph, derived from its weights.
 * Attention dimension equals `nEmbd` in every model we load (the official default).
 */
export interface RwkvConfig {
  /** Architecture version. */
  readonly version: RwkvVersion;
  /** Number of blocks. */
  readonly nLayer: number;
  /** Embedding (channel) dimension C. */
  readonly nEmbd: number;
  /** Vocabulary size (256 for the byte-level models). */
  readonly nVocab: number;
  /** Hidden size of the channel-mix (FFN). */
  readonly dimFfn: number;
  /** Head size N for v5+ (C = H * N); for v4, 1 (each channel is its own head). */
  readonly headSize: number;
  /** Number of heads H; for v4, equal to nEmbd. */
  readonly nHead: number;
  /**
   * Epsilon of the per-head group norm `ln_x` (v5+). Default `DEFAULT_LN_X_EPS` = 64e-5,
   * the official value (RWKV-LM trains GroupNorm(x / 8) with eps 1e-5, which equals
   * GroupNorm(x) with eps 64e-5; ChatRWKV infers with 64e-5). rwkv.cpp computes RWKV-5
   * with 1e-5, so its v5 files load with that value to reproduce it.
   */
  readonly lnXEpsilon?: number;
}

/** Official epsilon of RWKV-5.2/6/7's per-head group norm. */
export const DEFAULT_LN_X_EPS = 64e-5;
