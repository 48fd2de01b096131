/**
 * zod's issues as problems a person can act on: the field, its line:col, and what is wrong
 * said in the file's terms ("unknown task 'detect' (one of ...)", "unknown key 'modle'").
 *
 * @module
 */
import type { z } from 'zod';
import type { PipelineProblem } from './errors.js';
import { type FieldLocator, type FieldPath, formatPath } from './locate.js';

type Issue = z.core.$ZodIssue;

/** The value at `path` in `data` (undefined when not there). */
function valueAt(data: unknown, path: FieldPath): unknown {
  let v = data;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key as string];
  }
  return v;
}

/** A value as a message shows it: strings quoted, others by their JSON or their type. */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return JSON.stringify(v);
}

const TYPE_WORDS: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object (key: value lines)',
};

function problem(locator: FieldLocator, path: FieldPath, message: string, key = false): PipelineProblem {
  const { line, col } = locator.locate(path, { key });
  return { path: formatPath(path), line, col, message };
}

/**
 * The problems of zod's issues over `data` (the parsed file), located in the file. A union
 * whose value is of the right shape but wrong inside (say `onError: {retry: {retries: "x"}}`)
 * reports the inner problems rather than "no option matched".
 */
export function problemsOfIssues(
  issues: readonly Issue[],
  data: unknown,
  locator: FieldLocator,
  prefix: FieldPath = [],
): PipelineProblem[] {
  const out: PipelineProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    const value = valueAt(data, path);
    switch (issue.code) {
      case 'invalid_type':
        out.push(
          problem(
            locator,
            path,
            value === undefined
              ? `required (${TYPE_WORDS[issue.expected] ?? issue.expected})`
              : `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}, got ${shown(value)}`,
          ),
        );
        break;
      case 'invalid_value':
        out.push(
          problem(
            locator,
            path,
            issue.message.startsWith('Invalid')
              ? `expected ${issue.values.map((v) => shown(v)).join(' | ')}, got ${shown(value)}`
              : `${issue.message}, got ${shown(value)}`,
          ),
        );
        break;
      case 'unrecognized_keys':
        for (const key of issue.keys)
          out.push(problem(locator, [...path, key], `unknown key '${key}' (a misspelling?)`, true));
        break;
      case 'invalid_union': {
        if ('discriminator' in issue && issue.discriminator) {
          const options = (issue as { options?: readonly unknown[] }).options ?? [];
          const field = issue.discriminator;
          out.push(
            problem(
              locator,
              path,
              value === undefined
                ? `required: the ${field}, one of ${options.join(', ')}`
                : `unknown ${field} ${shown(value)} (one of ${options.join(', ')})`,
            ),
          );
          break;
        }
        // the option the value was meant for: the one whose problems are inside the value
        const inner = issue.errors.find((errs) => errs.length > 0 && errs.every((e) => e.path.length > 0));
        if (inner) out.push(...problemsOfIssues(inner, data, locator, path));
        else out.push(problem(locator, path, `${issue.message}, got ${shown(value)}`));
        break;
      }
      case 'too_small':
      case 'too_big': {
        const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
        const word = issue.code === 'too_small' ? 'at least' : 'at most';
        const inclusive = issue.inclusive !== false;
        out.push(
          problem(
            locator,
            path,
            issue.origin === 'array'
              ? `expected ${word} ${String(bound)} ${Number(bound) === 1 ? 'entry' : 'entries'}, got ${Array.isArray(value) ? value.length : shown(value)}`
              : `expected ${inclusive ? word : issue.code === 'too_small' ? 'more than' : 'less than'} ${String(bound)}, got ${shown(value)}`,
          ),
        );
        break;
      }
      default:
        out.push(
          problem(locator, path, `${issue.message}${value !== undefined ? `, got ${shown(value)}` : ''}`),
        );
    }
  }
  return out;
}
