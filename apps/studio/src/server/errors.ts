import { RwkvError } from '@rwkv-streams/core';
import { TimeoutError } from 'rxjs';
import { HttpError } from './http.js';

/** Codes of the packages' errors that mean "this input is wrong" (the client's to fix). */
const INPUT_CODES = new Set([
  'BAD_MAGIC',
  'BAD_INPUT',
  'MALFORMED_FILE',
  'TRUNCATED_FILE',
  'UNSUPPORTED_DTYPE',
  'SHAPE_MISMATCH',
  'UNKNOWN_VERSION',
]);

/** An error's message without the location prefix the core puts first ("file, field 'x': "). */
function bareMessage(err: RwkvError): string {
  const parts: string[] = [];
  if (err.file !== undefined) parts.push(err.file);
  if (err.field !== undefined) parts.push(`field '${err.field}'`);
  if (err.offset !== undefined) parts.push(`offset ${err.offset}`);
  const prefix = `${parts.join(', ')}: `;
  return parts.length > 0 && err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

/**
 * The HTTP error for anything a handler threw: our own HttpError as it is, a package's
 * typed input error as 422, a timeout as 504, anything else as 500 (logged: it is a bug or
 * an environment problem, not the input). With `subject` (the upload's name), a typed
 * error's message is said of it: uploads are read from bytes or temporary files whose
 * names mean nothing to the user, so the core's location prefix is replaced by the name.
 */
export function toHttpError(err: unknown, subject?: string): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof TimeoutError)
    return new HttpError(504, 'the model took too long on this input', 'TIMEOUT');
  if (err instanceof RwkvError) {
    const message = subject ? `${subject}: ${bareMessage(err)}` : err.message;
    return new HttpError(INPUT_CODES.has(err.code) ? 422 : 500, message, err.code);
  }
  process.stderr.write(`rwkv-streams studio: ${(err as Error)?.stack ?? String(err)}\n`);
  return new HttpError(500, `internal error: ${(err as Error)?.message ?? String(err)}`, 'INTERNAL');
}

/** A model that could not be loaded: 503, naming it and why (a missing or broken model folder). */
export function modelUnavailable(what: string, err: unknown): HttpError {
  const why = err instanceof Error ? err.message : String(err);
  return new HttpError(503, `the ${what} model is not available: ${why}`, 'MODEL_UNAVAILABLE');
}
