/**
 * Reading a pipeline file: YAML or JSON text -> validated {@link PipelineFile} with its
 * paths resolved, or one {@link PipelineFileError} listing every problem with its field
 * and line:col.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { FileNotFoundError } from '@rwkv-streams/core';
import { IMAGE_FILE_EXTENSIONS } from '@rwkv-streams/vision';
import { type Document, LineCounter, parseDocument } from 'yaml';
import { PipelineFileError, type PipelineProblem } from './errors.js';
import { FieldLocator, type FieldPath, formatPath } from './locate.js';
import { modelProblem } from './model-files.js';
import { expandPath, WAV_EXTENSIONS } from './paths.js';
import { problemsOfIssues } from './problems.js';
import { itemKindOf, type PipelineFile, pipelineFileSchema, type StageSpec, TASK_INPUT } from './schema.js';

/** A pipeline file read and checked, ready for {@link buildPipeline} or {@link runPipeline}. */
export interface LoadedPipeline {
  /** Where it was read from (`<inline>` for text or objects given by a program). */
  readonly file: string;
  /** The folder relative paths were resolved against. */
  readonly dir: string;
  /** The file, defaults applied, every path absolute (`-` stays: stdin or stdout). */
  readonly spec: PipelineFile;
}

/** Options of {@link parsePipeline}. */
export interface ParsePipelineOptions {
  /** The file's name in messages (default `<inline>`). */
  readonly file?: string;
  /** `yaml` (default) or `json`. */
  readonly format?: 'yaml' | 'json';
  /** Relative paths resolve against this folder (default: the file's folder, else the working folder). */
  readonly baseDir?: string;
  /** Whether to check that models and input files exist (default true). */
  readonly checkFiles?: boolean;
}

/** 1-based line and column of a character offset. */
function linePosOf(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}

/** Parses YAML (or JSON) keeping node positions; syntax errors as problems. */
function parseText(
  text: string,
  format: 'yaml' | 'json',
): { data: unknown; locator: FieldLocator; problems: PipelineProblem[] } {
  const lineCounter = new LineCounter();
  // JSON is YAML flow syntax: the YAML parser gives JSON files node positions too
  const doc: Document.Parsed = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const locator = new FieldLocator(doc, lineCounter);
  const problems: PipelineProblem[] = [];
  if (format === 'json') {
    try {
      const data: unknown = JSON.parse(text);
      // duplicate keys: JSON.parse keeps the last silently; say so
      for (const e of doc.errors)
        if (e.code === 'DUPLICATE_KEY') {
          const pos = e.linePos?.[0] ?? { line: 0, col: 0 };
          problems.push({ path: '(syntax)', line: pos.line, col: pos.col, message: 'the same key twice' });
        }
      return { data, locator, problems };
    } catch (err) {
      const message = (err as Error).message;
      const at = /position (\d+)/.exec(message);
      const pos = at ? linePosOf(text, Number(at[1])) : { line: 0, col: 0 };
      problems.push({
        path: '(syntax)',
        ...pos,
        message: `not JSON: ${message.replace(/ in JSON at position.*$/, '')}`,
      });
      return { data: undefined, locator, problems };
    }
  }
  for (const e of doc.errors) {
    const pos = e.linePos?.[0] ?? { line: 0, col: 0 };
    problems.push({
      path: '(syntax)',
      line: pos.line,
      col: pos.col,
      message: `not YAML: ${e.message.split('\n')[0]}`,
    });
  }
  return { data: problems.length ? undefined : doc.toJS(), locator, problems };
}

const resolvePath = (dir: string, p: string): string => (p === '-' || isAbsolute(p) ? p : resolve(dir, p));

/** The spec with every path resolved against `dir`. */
function resolvePaths(spec: PipelineFile, dir: string): PipelineFile {
  const at = (p: string) => resolvePath(dir, p);
  const source = { ...spec.source };
  if ('path' in source)
    source.path = Array.isArray(source.path) ? source.path.map(at) : at(source.path as string);
  return {
    ...spec,
    source: source as PipelineFile['source'],
    stages: spec.stages.map((s): StageSpec => {
      const out = { ...s, model: at(s.model) };
      if ('outDir' in out && out.outDir) out.outDir = at(out.outDir);
      if ('lexicon' in out && out.lexicon && out.lexicon !== 'none') out.lexicon = at(out.lexicon);
      return out as StageSpec;
    }),
    sink: { ...spec.sink, path: at(spec.sink.path) },
    ...(spec.metrics ? { metrics: { ...spec.metrics, path: at(spec.metrics.path) } } : {}),
  };
}

/** Checks beyond the schema: tasks that fit the source, unique names, files that exist. */
function checkMeaning(spec: PipelineFile, checkFiles: boolean, locator: FieldLocator): PipelineProblem[] {
  const problems: PipelineProblem[] = [];
  const add = (path: FieldPath, message: string) => {
    const { line, col } = locator.locate(path);
    problems.push({ path: formatPath(path), line, col, message });
  };
  const kind = itemKindOf(spec.source);
  const names = new Map<string, number>();
  spec.stages.forEach((s, i) => {
    if (TASK_INPUT[s.task] !== kind)
      add(
        ['stages', i, 'task'],
        `${s.task} takes ${TASK_INPUT[s.task]} items; a ${spec.source.type} source gives ${kind} items`,
      );
    if (s.name !== undefined) {
      const first = names.get(s.name);
      if (first !== undefined) add(['stages', i, 'name'], `stages[${first}] has this name already`);
      else names.set(s.name, i);
    }
    if (checkFiles) {
      const problem = modelProblem(s.task, s.model);
      if (problem) add(['stages', i, 'model'], problem);
      if (s.task === 'transcribe' && s.lexicon && s.lexicon !== 'none' && !existsSync(s.lexicon))
        add(['stages', i, 'lexicon'], `word list not found: ${s.lexicon}`);
    }
  });
  if (checkFiles) {
    const src = spec.source;
    if (src.type === 'images' || src.type === 'wav') {
      const extensions = src.type === 'images' ? IMAGE_FILE_EXTENSIONS : WAV_EXTENSIONS;
      const list = Array.isArray(src.path) ? src.path : [src.path];
      list.forEach((p, i) => {
        const { problem } = expandPath(p, extensions);
        if (problem) add(Array.isArray(src.path) ? ['source', 'path', i] : ['source', 'path'], problem);
      });
    } else if (src.path !== '-' && !existsSync(src.path)) add(['source', 'path'], `not found: ${src.path}`);
  }
  return problems;
}

/**
 * Validates a pipeline already parsed (an object a program built, or a file's content): the
 * schema, then the meaning (tasks fit the source, models and inputs exist). Relative paths
 * resolve against `baseDir`. Throws {@link PipelineFileError} listing every problem.
 */
export function validatePipeline(
  data: unknown,
  options: ParsePipelineOptions & { readonly locator?: FieldLocator } = {},
): LoadedPipeline {
  const file = options.file ?? '<inline>';
  const dir = options.baseDir ?? (options.file ? dirname(resolve(options.file)) : process.cwd());
  const locator = options.locator ?? FieldLocator.none();
  const parsed = pipelineFileSchema.safeParse(data);
  if (!parsed.success)
    throw new PipelineFileError(file, problemsOfIssues(parsed.error.issues, data, locator));
  const spec = resolvePaths(parsed.data, dir);
  const problems = checkMeaning(spec, options.checkFiles ?? true, locator);
  if (problems.length > 0) throw new PipelineFileError(file, problems);
  return { file, dir, spec };
}

/** Parses and validates pipeline text (YAML, or JSON with `format: 'json'`). */
export function parsePipeline(text: string, options: ParsePipelineOptions = {}): LoadedPipeline {
  const file = options.file ?? '<inline>';
  const { data, locator, problems } = parseText(text, options.format ?? 'yaml');
  if (problems.length > 0) throw new PipelineFileError(file, problems);
  return validatePipeline(data, { ...options, locator });
}

/**
 * Reads a pipeline file: `.json` as JSON, anything else as YAML. Relative paths in it
 * resolve against its folder. A file that is not there is a FileNotFoundError; one that is
 * not a valid pipeline, a {@link PipelineFileError}.
 */
export function loadPipelineFile(
  path: string,
  options: Pick<ParsePipelineOptions, 'checkFiles'> = {},
): LoadedPipeline {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FileNotFoundError(
      `cannot read the pipeline file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      { file: path },
    );
  }
  return parsePipeline(text, {
    ...options,
    file: path,
    format: extname(path).toLowerCase() === '.json' ? 'json' : 'yaml',
    baseDir: dirname(resolve(path)),
  });
}
