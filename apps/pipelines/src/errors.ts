/**
 * The typed errors of pipeline files and runs.
 *
 * @module
 */
import { RwkvError, type RwkvErrorCode } from '@rwkv-streams/core';

/** One thing wrong in a pipeline file: the field, where it is written, and what is wrong. */
export interface PipelineProblem {
  /** The field, as `stages[1].model` (`(top level)` for the file as a whole). */
  readonly path: string;
  /** 1-based line and column of the field's value (or key) in the file; 0 when unknown. */
  readonly line: number;
  readonly col: number;
  /** What is wrong, in words. */
  readonly message: string;
}

const describeProblem = (file: string, p: PipelineProblem): string =>
  `${file}${p.line > 0 ? `:${p.line}:${p.col}` : ''}: ${p.path}: ${p.message}`;

/**
 * A pipeline file that cannot be run: not YAML/JSON, not the schema, or naming files that
 * are not there. `problems` lists every problem found (not just the first), each with its
 * field and line:col; the message says them all, one a line, as `file:line:col: field: what`.
 */
export class PipelineFileError extends RwkvError {
  /** Every problem found, in the order they appear in the file. */
  readonly problems: readonly PipelineProblem[];

  constructor(file: string, problems: readonly PipelineProblem[]) {
    const sorted = [...problems].sort((a, b) => a.line - b.line || a.col - b.col);
    super('MALFORMED_FILE', 'not a valid pipeline file', {
      file,
      ...(sorted.length === 1 ? { field: sorted[0]!.path } : {}),
    });
    this.problems = sorted;
    // file:line:col first, as compilers print it, so editors can jump to the place
    this.message =
      sorted.length === 1
        ? describeProblem(file, sorted[0]!)
        : `${file}: ${sorted.length} problems\n${sorted.map((p) => `  ${describeProblem(file, p)}`).join('\n')}`;
  }
}

/**
 * An item failed in a stage whose error policy is `fail` (or a retry policy that ends in
 * `fail`): the run stops with it. Its code is the item's error's; `cause` is that error.
 */
export class StageFailedError extends RwkvError {
  constructor(
    /** The stage's name. */
    readonly stage: string,
    /** The failed item's id (its path, or series key and time). */
    readonly itemId: string,
    cause: unknown,
  ) {
    const code: RwkvErrorCode = cause instanceof RwkvError ? cause.code : 'BAD_INPUT';
    super(
      code,
      `stage '${stage}', item '${itemId}': ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    this.cause = cause;
  }
}
