/** Options of `activityLabels`. */
export interface ActivityLabelOptions {
  /** A frame is speech when its energy is within this many dB of the loudest frame (default -40). */
  readonly floorDb?: number;
  /** Pauses up to this long between speech frames count as speech (default 0.2 s). */
  readonly minGapSeconds?: number;
}

const HOP = 160;
const WIN = 400;

/**
 * Reference voice activity of a CLEAN utterance (16 kHz, no noise), one 0/1 label per 10 ms
 * filterbank frame (frame j covers samples [160 j, 160 j + 400), the filterbank's framing):
 * the definition the RWKV voice-activity head was trained on (training/audio/data.py
 * `activity_frames`, same numbers), used to score voice-activity detectors on the same
 * audio with noise added.
 */
export function activityLabels(clean: Float32Array, options: ActivityLabelOptions = {}): Uint8Array {
  const floorDb = options.floorDb ?? -40;
  const maxGap = Math.round(((options.minGapSeconds ?? 0.2) * 16000) / HOP);
  const n = clean.length >= WIN ? 1 + Math.floor((clean.length - WIN) / HOP) : 0;
  const db = new Float64Array(n);
  let top = -Infinity;
  for (let j = 0; j < n; j++) {
    let e = 1e-12;
    for (let i = j * HOP; i < j * HOP + WIN; i++) e += clean[i]! * clean[i]!;
    db[j] = 10 * Math.log10(e);
    top = Math.max(top, db[j]!);
  }
  const on = new Uint8Array(n);
  let last = -1;
  for (let j = 0; j < n; j++) {
    if (db[j]! > top + floorDb) {
      if (last >= 0 && j - last > 1 && j - last <= maxGap) on.fill(1, last, j);
      on[j] = 1;
      last = j;
    }
  }
  return on;
}
