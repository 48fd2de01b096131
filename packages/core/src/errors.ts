/**
 * Typed errors of the core. Every error names what was wrong and where (file, field,
 * tensor, shape), so a caller can report it or branch on `code` without parsing text.
 */

/** Machine-readable error codes. */
export type RwkvErrorCode =
  | 'FILE_NOT_FOUND'
  | 'TRUNCATED_FILE'
  | 'BAD_MAGIC'
  | 'UNKNOWN_VERSION'
  | 'UNSUPPORTED_DTYPE'
  | 'SHAPE_MISMATCH'
  | 'MISSING_TENSOR'
  | 'MALFORMED_FILE'
  | 'UNSAFE_PICKLE'
  | 'BAD_STATE'
  | 'BAD_INPUT'
  | 'BACKEND_UNAVAILABLE'
  | 'DISPOSED';

/** Where an error was found: any of these that apply. */
export interface ErrorLocation {
  /** File path (or a description such as `<buffer>` when read from memory). */
  file?: string;
  /** Header field, tensor name, pickle opcode or option that was wrong. */
  field?: string;
  /** Byte offset in the file, when known. */
  offset?: number;
}

/** Base class of every error the framework throws on purpose. */
export class RwkvError extends Error {
  /** Stable machine-readable code. */
  readonly code: RwkvErrorCode;
  /** File path, if the error came from a file. */
  readonly file: string | undefined;
  /** Field, tensor or option named by the error. */
  readonly field: string | undefined;
  /** Byte offset, when known. */
  readonly offset: number | undefined;

  constructor(code: RwkvErrorCode, message: string, where: ErrorLocation = {}) {
    const parts: string[] = [];
    if (where.file !== undefined) parts.push(where.file);
    if (where.field !== undefined) parts.push(`field '${where.field}'`);
    if (where.offset !== undefined) parts.push(`offset ${where.offset}`);
    super(parts.length > 0 ? `${parts.join(', ')}: ${message}` : message);
    this.name = new.target.name;
    this.code = code;
    this.file = where.file;
    this.field = where.field;
    this.offset = where.offset;
  }
}

/** A file that does not exist or cannot be read. */
export class FileNotFoundError extends RwkvError {
  constructor(message: string, where: ErrorLocation) {
    super('FILE_NOT_FOUND', message, where);
  }
}

/** The file ended before a header, tensor or record it announced. */
export class TruncatedFileError extends RwkvError {
  constructor(message: string, where: ErrorLocation) {
    super('TRUNCATED_FILE', message, where);
  }
}

/** The file does not start with the magic number of the format it was read as. */
export class BadMagicError extends RwkvError {
  constructor(message: string, where: ErrorLocation) {
    super('BAD_MAGIC', message, where);
  }
}

/** A format version, model version or data type the reader does not know. */
export class UnknownVersionError extends RwkvError {
  constructor(message: string, where: ErrorLocation) {
    super('UNKNOWN_VERSION', message, where);
  }
}

/** A tensor element type the reader cannot decode. */
export class UnsupportedDTypeError extends RwkvError {
  constructor(message: string, where: ErrorLocation) {
    super('UNSUPPORTED_DTYPE', message, where);
  }
}

/** A tensor or input whose shape is not the one required. */
export class ShapeMismatchError extends RwkvError {
  constructor(message: string, where: ErrorLocation) {
    super('SHAPE_MISMATCH', message, where);
  }
}

/** A tensor the model needs is absent from the weights. */
export class MissingTensorError extends RwkvError {
  constructor(message: string, where: ErrorLocation) {
    super('MISSING_TENSOR', message, where);
  }
}

/** Structurally broken file content (bad offsets, bad JSON header, bad zip entry). */
export class MalformedFileError extends RwkvError {
  constructor(message: string, where: ErrorLocation) {
    super('MALFORMED_FILE', message, where);
  }
}

/** A pickle that asks for anything beyond tensors and plain containers. Never executed. */
export class UnsafePickleError extends RwkvError {
  constructor(message: string, where: ErrorLocation) {
    super('UNSAFE_PICKLE', message, where);
  }
}

/** A state value that does not belong to the model it is used with, or corrupt state bytes. */
export class BadStateError extends RwkvError {
  constructor(message: string, where: ErrorLocation = {}) {
    super('BAD_STATE', message, where);
  }
}

/** Invalid arguments to a public API (token out of range, empty batch, bad option). */
export class BadInputError extends RwkvError {
  constructor(message: string, where: ErrorLocation = {}) {
    super('BAD_INPUT', message, where);
  }
}

/** A backend that cannot run here (missing library, no device), with where it looked. */
export class BackendUnavailableError extends RwkvError {
  constructor(message: string, where: ErrorLocation = {}) {
    super('BACKEND_UNAVAILABLE', message, where);
  }
}

/** Use of a model, session or state after `dispose()`. */
export class DisposedError extends RwkvError {
  constructor(what: string) {
    super('DISPOSED', `${what} was used after dispose()`);
  }
}
