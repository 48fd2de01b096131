/**
 * Helpers shared by the operators: option validation (every bad option is a
 * {@link BadInputError} naming the option) and the reporting of errors that no
 * subscriber can receive any more. Not part of the public API.
 *
 * @internal
 * @module
 */
import { config } from 'rxjs';
import { BadInputError } from '../errors.js';

/**
 * Checks that `value` is an integer >= 1 or `Infinity`.
 *
 * @throws {@link BadInputError} naming `operator.field` otherwise.
 * @internal
 */
export function checkCount(operator: string, field: string, value: unknown): number {
  if (
    typeof value !== 'number' ||
    !(value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value >= 1))
  ) {
    throw new BadInputError(
      `${operator}: ${field} must be an integer >= 1 or Infinity, got ${String(value)}`,
      {
        field,
      },
    );
  }
  return value;
}

/**
 * Checks that `value` is a number of milliseconds >= 0 (`Infinity` allowed, `NaN` not).
 *
 * @throws {@link BadInputError} naming `operator.field` otherwise.
 * @internal
 */
export function checkDelay(operator: string, field: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new BadInputError(
      `${operator}: ${field} must be a number of milliseconds >= 0, got ${String(value)}`,
      {
        field,
      },
    );
  }
  return value;
}

/**
 * Checks that `value` is a function.
 *
 * @throws {@link BadInputError} naming `operator.field` otherwise.
 * @internal
 */
export function checkFunction(operator: string, field: string, value: unknown): void {
  if (typeof value !== 'function') {
    throw new BadInputError(`${operator}: ${field} must be a function, got ${typeof value}`, { field });
  }
}

/**
 * Checks that `options` is an object.
 *
 * @throws {@link BadInputError} otherwise.
 * @internal
 */
export function checkOptions(operator: string, options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new BadInputError(`${operator}: options must be an object, got ${String(options)}`, {
      field: 'options',
    });
  }
}

/**
 * Reports an error that happened after the subscriber was closed (for instance a
 * `releaseState` that threw while a subscription was being torn down), the way RxJS
 * reports its own: through `config.onUnhandledError` when set, else by throwing it
 * asynchronously so that it is not swallowed.
 *
 * @internal
 */
export function reportUnhandled(error: unknown): void {
  const handler = config.onUnhandledError;
  if (handler) {
    handler(error);
  } else {
    setTimeout(() => {
      throw error;
    });
  }
}
