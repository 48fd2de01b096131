import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type AudioChunk, type TranscriptEvent, transcribe } from '@rwkv-streams/audio';
import { metrics } from '@rwkv-streams/core';
import { concat, from, map, Subject, type Subscription } from 'rxjs';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { SpeechClientMessage, SpeechMethod, SpeechServerMessage } from '../../protocol.js';
import type { StudioContext } from '../context.js';
import { modelUnavailable } from '../errors.js';

/** The socket's path. */
export const SPEECH_SOCKET_PATH = '/ws/speech';

const METHODS: readonly SpeechMethod[] = ['ctc-greedy', 'ctc-beam', 'transducer-greedy', 'transducer-beam'];
/**
 * Without a method: transducer beam search with the model's word list, as the CLI's
 * `transcribe` and the pipelines' stage (more accurate than greedy; still far faster than
 * real time on one core).
 */
const DEFAULT_METHOD: SpeechMethod = 'transducer-beam';
const MIN_RATE = 8000;
const MAX_RATE = 96000;

/** Close codes (RFC 6455): normal, a protocol violation by the page, a server failure. */
const CLOSE = { normal: 1000, policy: 1008, serverError: 1011 } as const;

/** A message the page should not have sent: the session ends with it as the error. */
class ProtocolError extends Error {
  constructor(
    message: string,
    readonly code = 'PROTOCOL',
  ) {
    super(message);
  }
}

/** A start message checked, or a ProtocolError saying what is wrong with it. */
function parseStart(data: RawData, isBinary: boolean): Extract<SpeechClientMessage, { type: 'start' }> {
  if (isBinary)
    throw new ProtocolError(
      'send a start message first: {"type":"start","sampleRate":16000,"encoding":"f32le"}',
    );
  let msg: unknown;
  try {
    msg = JSON.parse(String(data));
  } catch {
    throw new ProtocolError('the first message is not JSON; expected {"type":"start",...}');
  }
  const m = msg as Partial<Record<string, unknown>> | null;
  if (!m || typeof m !== 'object' || m['type'] !== 'start')
    throw new ProtocolError(
      'the first message must be {"type":"start","sampleRate":N,"encoding":"f32le"|"s16le"}',
    );
  const rate = m['sampleRate'];
  if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < MIN_RATE || rate > MAX_RATE)
    throw new ProtocolError(`sampleRate must be a whole number of Hz from ${MIN_RATE} to ${MAX_RATE}`);
  const encoding = m['encoding'];
  if (encoding !== 'f32le' && encoding !== 's16le')
    throw new ProtocolError('encoding must be "f32le" or "s16le"');
  const method = m['method'] ?? DEFAULT_METHOD;
  if (!METHODS.includes(method as SpeechMethod))
    throw new ProtocolError(`method must be one of ${METHODS.join(', ')}`);
  return { type: 'start', sampleRate: rate, encoding, method: method as SpeechMethod };
}

const bytesOf = (data: RawData): Buffer =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);

/** A binary message as samples in [-1, 1], or a ProtocolError (odd length, non-finite values). */
function decodeChunk(bytes: Buffer, encoding: 'f32le' | 's16le'): Float32Array {
  const width = encoding === 'f32le' ? 4 : 2;
  if (bytes.length % width !== 0)
    throw new ProtocolError(`an audio message of ${bytes.length} bytes is not whole ${encoding} samples`);
  const n = bytes.length / width;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = encoding === 'f32le' ? bytes.readFloatLE(i * 4) : bytes.readInt16LE(i * 2) / 32768;
    if (!Number.isFinite(v)) throw new ProtocolError('the audio holds a sample that is not a finite number');
    out[i] = Math.max(-1, Math.min(1, v));
  }
  return out;
}

/**
 * One speech session on one socket: the page's PCM goes through `speech.decode` (bytes
 * to samples) and `speech.transcribe` (the audio package's streaming `transcribe()`
 * operator over the shared recognizer), and each partial and final result is sent back
 * as it comes. Anything wrong (garbage, a message too large, too long a session, idle too
 * long) ends the session with an `error` message and a close code; the server goes on.
 */
class SpeechSession {
  private start: Extract<SpeechClientMessage, { type: 'start' }> | undefined;
  private readonly audio = new Subject<Buffer>();
  /** Chunks that came while the model was loading. */
  private pending: Buffer[] | undefined = [];
  private pipeline: Subscription | undefined;
  private seconds = 0;
  private stopped = false;
  private ended = false;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: StudioContext,
  ) {
    this.touch();
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => this.dispose());
    // ws reports an oversized message or a broken frame here, then closes the socket itself.
    ws.on('error', (err) => this.fail(new ProtocolError(err.message, 'PROTOCOL')));
  }

  private send(msg: SpeechServerMessage): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** Re-arms the idle timer: it runs only while the page owes us a message (not after stop). */
  private touch(): void {
    clearTimeout(this.idle);
    if (this.ended || this.stopped) return;
    this.idle = setTimeout(
      () => this.fail(new ProtocolError(`no message for ${this.ctx.limits.speechIdleMs / 1000} s`, 'IDLE')),
      this.ctx.limits.speechIdleMs,
    );
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.ended) return;
    this.touch();
    try {
      if (!this.start) {
        this.start = parseStart(data, isBinary);
        void this.run(this.start);
        return;
      }
      if (!isBinary) {
        let msg: unknown;
        try {
          msg = JSON.parse(String(data));
        } catch {
          throw new ProtocolError('a text message that is not JSON; expected {"type":"stop"}');
        }
        if ((msg as { type?: unknown } | null)?.type !== 'stop')
          throw new ProtocolError('after start, send binary audio or {"type":"stop"}');
        this.stop();
        return;
      }
      if (this.stopped) throw new ProtocolError('audio after stop');
      const bytes = bytesOf(data);
      const width = this.start.encoding === 'f32le' ? 4 : 2;
      this.seconds += bytes.length / width / this.start.sampleRate;
      if (this.seconds > this.ctx.limits.maxSpeechSeconds) {
        this.send({
          type: 'error',
          error: `a session takes at most ${this.ctx.limits.maxSpeechSeconds} s of audio; the rest is not transcribed`,
          code: 'TOO_LONG',
        });
        this.stop();
        return;
      }
      if (this.pending) this.pending.push(bytes);
      else this.audio.next(bytes);
    } catch (err) {
      this.fail(err);
    }
  }

  /** No more audio: what was sent is decoded to the end, then `done` and a normal close. */
  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.idle);
    this.audio.complete();
  }

  private async run(start: Extract<SpeechClientMessage, { type: 'start' }>): Promise<void> {
    const method = start.method ?? DEFAULT_METHOD;
    let recognizer: Awaited<ReturnType<StudioContext['models']['recognizer']>>;
    try {
      recognizer = await this.ctx.models.recognizer(method);
    } catch (err) {
      const e = modelUnavailable('speech', err);
      this.finish(
        { type: 'error', error: e.message, code: e.code ?? 'MODEL_UNAVAILABLE' },
        CLOSE.serverError,
      );
      return;
    }
    if (this.ended) return;
    this.send({ type: 'ready', method });
    const queued = this.pending ?? [];
    this.pending = undefined;
    const { registry } = this.ctx;
    this.pipeline = concat(from(queued), this.audio)
      .pipe(
        metrics(
          registry,
          'speech.decode',
          map(
            (b: Buffer): AudioChunk => ({
              samples: decodeChunk(b, start.encoding),
              sampleRate: start.sampleRate,
            }),
          ),
        ),
        metrics(registry, 'speech.transcribe', transcribe({ recognizer, partials: true }), {
          oneToOne: false,
        }),
      )
      .subscribe({
        next: (e: TranscriptEvent) => this.send(eventMessage(e)),
        error: (err: unknown) => this.fail(err),
        complete: () =>
          this.finish({ type: 'done', seconds: Math.round(this.seconds * 1000) / 1000 }, CLOSE.normal),
      });
  }

  private fail(err: unknown): void {
    if (this.ended) return;
    if (err instanceof ProtocolError) {
      this.finish({ type: 'error', error: err.message, code: err.code }, CLOSE.policy);
      return;
    }
    const code = (err as { code?: unknown })?.code;
    this.finish(
      {
        type: 'error',
        error: (err as Error)?.message ?? String(err),
        code: typeof code === 'string' ? code : 'INTERNAL',
      },
      CLOSE.serverError,
    );
  }

  private finish(last: SpeechServerMessage, closeCode: number): void {
    if (this.ended) return;
    this.send(last);
    this.dispose();
    if (this.ws.readyState === WebSocket.OPEN)
      this.ws.close(closeCode, last.type === 'error' ? last.code : 'done');
  }

  private dispose(): void {
    this.ended = true;
    clearTimeout(this.idle);
    this.pipeline?.unsubscribe();
    this.pending = undefined;
  }
}

const round = (s: number) => Math.round(s * 1000) / 1000;

function eventMessage(e: TranscriptEvent): SpeechServerMessage {
  if (e.type === 'partial')
    return { type: 'partial', text: e.text, start: round(e.start), end: round(e.end) };
  return {
    type: 'final',
    text: e.text,
    start: round(e.start),
    end: round(e.end),
    words: e.words.map((w) => ({ word: w.word, start: round(w.start), end: round(w.end) })),
  };
}

/**
 * The speech socket's server: sessions on `SPEECH_SOCKET_PATH` (upgrades are passed in by
 * the HTTP server, which refuses other paths and foreign origins first).
 */
export function createSpeechSockets(ctx: StudioContext): {
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly close: () => void;
} {
  const wss = new WebSocketServer({ noServer: true, maxPayload: ctx.limits.maxSocketMessageBytes });
  wss.on('connection', (ws) => new SpeechSession(ws, ctx));
  return {
    upgrade: (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
    close: () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
