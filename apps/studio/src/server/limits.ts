/** What the studio accepts: every upload, socket and request is bounded by these. */
export interface StudioLimits {
  /** Largest upload (image or CSV), bytes. */
  readonly maxUploadBytes: number;
  /** Largest image, in pixels (width x height): segmentation tiles the whole image, so cost grows with it. */
  readonly maxImagePixels: number;
  /** Longest a request may take to arrive in full (headers and body), ms. */
  readonly requestTimeoutMs: number;
  /** Longest the headers of a request may take, ms. */
  readonly headersTimeoutMs: number;
  /** Longest a model may work on one request (a model's first use includes compiling it), ms. */
  readonly processTimeoutMs: number;
  /** Largest WebSocket message, bytes (one audio chunk). */
  readonly maxSocketMessageBytes: number;
  /** Most audio one speech session may send, seconds. */
  readonly maxSpeechSeconds: number;
  /** A speech socket with no message for this long is closed, ms. */
  readonly speechIdleMs: number;
}

/** The defaults: generous for a local tool, small enough that a mistake cannot take the machine down. */
export const DEFAULT_LIMITS: StudioLimits = {
  maxUploadBytes: 10 * 1024 * 1024,
  maxImagePixels: 2048 * 2048,
  requestTimeoutMs: 60_000,
  headersTimeoutMs: 10_000,
  processTimeoutMs: 120_000,
  maxSocketMessageBytes: 1024 * 1024,
  maxSpeechSeconds: 600,
  speechIdleMs: 30_000,
};

/** `DEFAULT_LIMITS` with some replaced. */
export function resolveLimits(partial: Partial<StudioLimits> = {}): StudioLimits {
  const limits = { ...DEFAULT_LIMITS, ...partial };
  for (const [name, v] of Object.entries(limits))
    if (!Number.isFinite(v) || v <= 0)
      throw new RangeError(`limit ${name} must be a positive number, got ${v}`);
  return limits;
}
