import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A failure with the HTTP status it deserves and a message for the person who caused it;
 * handlers throw it, the server turns it into `{ error, code? }` JSON.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** A stable code (the packages' error codes, or one of ours) for scripts. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  readonly error: string;
  readonly code?: string;
}

/** Writes `body` as JSON with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Writes an error response (unless the response already started: then the connection is cut). */
export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body: ErrorBody = err.code ? { error: err.message, code: err.code } : { error: err.message };
  sendJson(res, err.status, body);
}

const mb = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(bytes < 1024 * 1024 ? 2 : 1)} MB`;

/** How much of an oversized body is still read (and thrown away) so the client sees the 413, not a reset. */
const DRAIN_LIMIT = 64 * 1024 * 1024;

/**
 * Reads a request body of at most `limit` bytes. The limit is enforced while the body
 * streams in (a declared Content-Length over it fails at once): nothing beyond it is kept.
 * An oversized body is drained (up to 64 MB) before the 413 so that browsers, which report a
 * connection closed mid-upload as a network error, show the message.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooBig = () =>
    new HttpError(413, `the upload is larger than the studio takes (at most ${mb(limit)})`, 'TOO_LARGE');
  const declared = Number(req.headers['content-length']);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > limit;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (over) {
        chunks.length = 0;
        if (size > limit + DRAIN_LIMIT) {
          req.destroy();
          reject(tooBig());
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => (over ? reject(tooBig()) : resolve(Buffer.concat(chunks, size))));
    req.on('error', (err) => reject(new HttpError(400, `the upload broke off (${err.message})`, 'ABORTED')));
    req.on('close', () => {
      if (!req.complete) reject(new HttpError(400, 'the upload broke off', 'ABORTED'));
    });
  });
}

/** The file name the page sent with an upload (`?name=`), for messages; a placeholder otherwise. */
export function uploadName(url: URL, fallback: string): string {
  const name = url.searchParams.get('name');
  // Only a short printable name goes into messages (it is echoed back to the page).
  return name && name.length <= 200 && ![...name].some((c) => c.charCodeAt(0) < 0x20) ? name : fallback;
}
