/**
 * What the studio's server and its pages say to each other: the JSON of every API answer
 * and every speech-socket message. Types only (the pages' build imports them too, and no
 * code is shared between Node and the browser).
 */

/** Every error answer (HTTP status >= 400), and the speech socket's `error` message. */
export interface ApiError {
  /** What was wrong, for a person: names the file and the problem. */
  readonly error: string;
  /** A stable code (the packages' error codes, or TOO_LARGE, UNSUPPORTED_TYPE, TIMEOUT, ...). */
  readonly code?: string;
}

/** `GET /api/config`: the limits the pages check before uploading, and the models' facts. */
export interface StudioConfig {
  readonly maxUploadBytes: number;
  readonly maxImagePixels: number;
  readonly maxSpeechSeconds: number;
  /** Null when the model cannot be loaded (its page says why when used). */
  readonly forecast: {
    readonly columns: readonly string[];
    readonly seqLen: number;
    readonly predLen: number;
  } | null;
  readonly classify: { readonly labels: readonly string[] } | null;
  readonly segment: { readonly labels: readonly string[] } | null;
}

/** `POST /api/classify`. */
export interface ClassifyResponse {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** Most probable first. */
  readonly top: readonly { readonly label: string; readonly probability: number }[];
  /** Time on the server, ms. */
  readonly ms: number;
}

/** `POST /api/segment`. */
export interface SegmentResponse {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly policy: 'tile' | 'letterbox';
  /** Classes present (background left out), most pixels first, with their overlay colour (#rrggbb). */
  readonly found: readonly {
    readonly label: string;
    readonly pixels: number;
    readonly share: number;
    readonly color: string;
  }[];
  /** The image with each class blended in its colour: a `data:image/png;base64,` URL. */
  readonly overlay: string;
  readonly ms: number;
}

/** `POST /api/forecast`: history and forecast, one array per column. */
export interface ForecastResponse {
  readonly name: string;
  readonly columns: readonly string[];
  /** Rows in the uploaded CSV. */
  readonly rows: number;
  /** The last rows of the history (the model's look-back window). */
  readonly history: { readonly times?: readonly string[]; readonly values: readonly (readonly number[])[] };
  readonly forecast: { readonly times?: readonly string[]; readonly values: readonly (readonly number[])[] };
  readonly horizon: number;
  readonly ms: number;
}

/** Decoding methods of the speech page. */
export type SpeechMethod = 'ctc-greedy' | 'ctc-beam' | 'transducer-greedy' | 'transducer-beam';

/**
 * The page's messages on `/ws/speech`: first `start` (JSON text), then binary messages of
 * mono PCM (little-endian float32 or s16, at `sampleRate`), then `stop` (JSON text).
 */
export type SpeechClientMessage =
  | {
      readonly type: 'start';
      readonly sampleRate: number;
      readonly encoding: 'f32le' | 's16le';
      /** Default transducer-beam (with the model's word list). */
      readonly method?: SpeechMethod;
    }
  | { readonly type: 'stop' };

/** A word with its times, seconds from the start of the session's audio. */
export interface SpeechWord {
  readonly word: string;
  readonly start: number;
  readonly end: number;
}

/** The server's messages on `/ws/speech` (JSON text). */
export type SpeechServerMessage =
  | { readonly type: 'ready'; readonly method: SpeechMethod }
  | { readonly type: 'partial'; readonly text: string; readonly start: number; readonly end: number }
  | {
      readonly type: 'final';
      readonly text: string;
      readonly start: number;
      readonly end: number;
      readonly words: readonly SpeechWord[];
    }
  /** Everything sent was decoded (after `stop`); the server closes the socket next. */
  | { readonly type: 'done'; readonly seconds: number }
  | ({ readonly type: 'error' } & ApiError);

/** One stage's figures as `GET /api/metrics` gives them (the core's StageSnapshot). */
export interface StageFigures {
  readonly stage: string;
  readonly itemsIn: number;
  readonly itemsOut: number;
  readonly dropped: number;
  readonly errors: number;
  readonly inFlight: number;
  readonly maxInFlight: number;
  readonly throughput: number;
  readonly latency: {
    readonly count: number;
    readonly sum: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  };
}

/** `GET /api/metrics`. */
export interface MetricsResponse {
  /** Seconds the server has run. */
  readonly uptime: number;
  readonly stages: readonly StageFigures[];
}
