/** An RWKV-TS (RWKV4TS) forecaster's sizes, as the official class takes them. */
export interface RwkvTsConfig {
  /** Lookback window (seq_len). */
  readonly seqLen: number;
  /** Forecast horizon (pred_len). */
  readonly predLen: number;
  /** Points per patch (patch_size) and the step between patches (stride). */
  readonly patchSize: number;
  readonly stride: number;
  /** Patches per window: (seqLen - patchSize) / stride + 1, plus one for the end padding. */
  readonly patchNum: number;
  /** Width (d_model), heads (n_heads) and blocks (gpt_layers). */
  readonly dModel: number;
  readonly nHead: number;
  readonly nLayer: number;
}
