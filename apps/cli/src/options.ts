import { InvalidArgumentError, Option } from 'commander';

/** Parses a positive integer flag value (commander turns the error into exit code 2). */
export const positiveInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

/** Parses a flag value that is a finite number >= 0, e.g. seconds (exit code 2 otherwise). */
export const nonNegativeNumber = (name: string) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError(`${name} must be a number >= 0`);
  return n;
};

/** Parses a flag value that is any finite number, negative included (exit code 2 otherwise). */
export const finiteNumber = (name: string) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
  return n;
};

/** `--device cpu|webgpu|cuda` (default cpu), the same in every command that runs a model. */
export const deviceOption = (): Option =>
  new Option('--device <device>', 'where to run').choices(['cpu', 'webgpu', 'cuda']).default('cpu');
