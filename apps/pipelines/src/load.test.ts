import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PipelineFileError, type PipelineProblem } from './errors.js';
import { loadPipelineFile, parsePipeline, validatePipeline } from './load.js';

/**
 * Pipeline files that are wrong in one or several ways: every problem is reported, each
 * with its field path and the line:col where it is written, for YAML and for JSON.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const models = join(root, 'models');
const dir = mkdtempSync(join(tmpdir(), 'rwkv-pipeline-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `text` as `name` in the temp folder and loads it; the error it throws. */
function problemsOf(name: string, text: string): PipelineFileError {
  const file = join(dir, name);
  writeFileSync(file, text);
  try {
    loadPipelineFile(file);
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineFileError);
    return err as PipelineFileError;
  }
  throw new Error('the file was accepted');
}

const at = (p: PipelineProblem) => `${p.path} ${p.line}:${p.col}`;

const goodYaml = `version: 1
source:
  type: images
  path: ${join(root, 'examples/pipelines/samples/fashion')}
stages:
  - task: classify
    model: ${join(models, 'vrwkv-fashion-mnist')}
`;

describe('YAML pipeline files', () => {
  it('accepts a valid file, applies defaults and resolves relative paths against its folder', () => {
    writeFileSync(join(dir, 'good.yaml'), `${goodYaml}sink: { path: out/records.jsonl }\n`);
    const { spec, dir: base } = loadPipelineFile(join(dir, 'good.yaml'));
    expect(base).toBe(dir);
    expect(spec.sink.path).toBe(resolve(dir, 'out/records.jsonl'));
    expect(spec.shutdown).toBe('drain');
    expect(spec.stages[0]).toMatchObject({ task: 'classify', topK: 1, onError: 'fail', resize: 'letterbox' });
  });

  it('names the field and line:col of a bad type', () => {
    const err = problemsOf('bad-type.yaml', `${goodYaml}    topK: two\n`);
    expect(err.problems.map(at)).toEqual(['stages[0].topK 8:11']);
    expect(err.problems[0]!.message).toBe('expected a number, got "two"');
    expect(err.message).toBe(
      `${join(dir, 'bad-type.yaml')}:8:11: stages[0].topK: expected a number, got "two"`,
    );
    expect(err.code).toBe('MALFORMED_FILE');
  });

  it('lists every problem: an unknown task, an unknown key, a missing field, a bad value', () => {
    const err = problemsOf(
      'many.yaml',
      [
        'version: 1',
        'source: { type: images, path: x }',
        'stages:',
        '  - task: detect',
        '    model: m',
        '  - task: classify',
        '    modle: m',
        '    onError: { retry: { retries: -1 } }',
        'shutdown: later',
        '',
      ].join('\n'),
    );
    expect(err.problems.map(at)).toEqual([
      'stages[0].task 4:11',
      'stages[1].model 6:5', // missing: where the stage starts
      'stages[1].modle 7:5', // the unknown key itself
      'stages[1].onError.retry.retries 8:34', // the value -1
      'shutdown 9:11',
    ]);
    expect(err.problems[0]!.message).toBe(
      'unknown task "detect" (one of classify, segment, transcribe, forecast, anomaly)',
    );
    expect(err.problems[1]!.message).toBe('required (a string)');
    expect(err.problems[2]!.message).toMatch(/unknown key 'modle'/);
    expect(err.problems[4]!.message).toBe('expected "drain" | "abort", got "later"');
    expect(err.message.split('\n')[0]).toBe(`${join(dir, 'many.yaml')}: 5 problems`);
  });

  it('refuses a model that is not there at load time, naming the field', () => {
    const err = problemsOf('no-model.yaml', goodYaml.replace('vrwkv-fashion-mnist', 'no-such-model'));
    expect(err.problems.map(at)).toEqual(['stages[0].model 7:12']);
    expect(err.problems[0]!.message).toBe(`model not found: ${join(models, 'no-such-model')}`);
  });

  it('refuses a model folder of the wrong kind and inputs that are not there', () => {
    const err = problemsOf(
      'wrong.yaml',
      goodYaml
        .replace('vrwkv-fashion-mnist', 'rwkv-ts-etth1-96')
        .replace('examples/pipelines/samples/fashion', 'examples/pipelines/samples/nothing-here'),
    );
    expect(err.problems.map(at)).toEqual(['source.path 4:9', 'stages[0].model 7:12']);
    expect(err.problems[1]!.message).toMatch(/^no model\.safetensors in the model folder/);
  });

  it('refuses a task that does not take what the source gives', () => {
    const err = problemsOf(
      'mismatch.yaml',
      goodYaml.replace('task: classify', 'task: forecast').replace('vrwkv-fashion-mnist', 'rwkv-ts-etth1-96'),
    );
    expect(err.problems.map(at)).toEqual(['stages[0].task 6:11']);
    expect(err.problems[0]!.message).toBe(
      'forecast takes observation items; a images source gives image items',
    );
  });

  it('reports a YAML syntax error with its line', () => {
    const err = problemsOf('syntax.yaml', 'version: 1\nsource: [unclosed\nstages: []\n');
    expect(err.problems[0]!.path).toBe('(syntax)');
    expect(err.problems[0]!.line).toBeGreaterThan(0);
    expect(err.problems[0]!.message).toMatch(/^not YAML/);
  });
});

describe('JSON pipeline files', () => {
  const goodJson = (stage: string) =>
    `{
  "version": 1,
  "source": { "type": "images", "path": ${JSON.stringify(join(root, 'examples/pipelines/samples/fashion'))} },
  "stages": [
    ${stage}
  ]
}
`;
  const model = JSON.stringify(join(models, 'vrwkv-fashion-mnist'));

  it('names the field and line:col of a bad type, an unknown task, an unknown key and a missing model', () => {
    const err = problemsOf(
      'bad.json',
      goodJson(
        [
          `{ "task": "classify", "model": ${model}, "topK": "two" },`,
          `    { "task": "caption", "model": ${model} },`,
          `    { "task": "classify", "model": ${model}, "top": 3 }`,
        ].join('\n'),
      ),
    );
    const lines = readFileSync(join(dir, 'bad.json'), 'utf8').split('\n');
    const col = (line: number, text: string) => lines[line - 1]!.indexOf(text) + 1;
    expect(err.problems.map(at)).toEqual([
      `stages[0].topK 5:${col(5, '"two"')}`,
      `stages[1].task 6:${col(6, '"caption"')}`,
      `stages[2].top 7:${col(7, '"top"')}`,
    ]);
    expect(err.problems[1]!.message).toMatch(/^unknown task "caption"/);
    expect(err.problems[2]!.message).toMatch(/unknown key 'top'/);
    const missing = problemsOf(
      'missing.json',
      goodJson(`{ "task": "classify", "model": "${join(models, 'nope')}" }`),
    );
    expect(missing.problems.map(at)).toEqual([`stages[0].model 5:${col(5, '"model"') + '"model": '.length}`]);
  });

  it('reports a JSON syntax error at its line:col', () => {
    const err = problemsOf('syntax.json', '{\n  "version": 1,\n  "source": {"type": "images",}\n}\n');
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatchObject({ path: '(syntax)', line: 3 });
    expect(err.problems[0]!.message).toMatch(/^not JSON/);
  });
});

describe('pipelines given by a program', () => {
  it('validates an object, with paths but no line numbers', () => {
    expect(() => validatePipeline({ version: 2, source: { type: 'csv' }, stages: [] })).toThrow(
      [
        '<inline>: 3 problems',
        '  <inline>: version: expected 1 (the only version of the format), got 2',
        '  <inline>: source.path: required (a string)',
        '  <inline>: stages: expected at least 1 entry, got 0',
      ].join('\n'),
    );
  });

  it('parses text with the file name it is given', () => {
    expect(() =>
      parsePipeline('version: 1\nsource: { type: wav, path: x.wav }\nstages: [{ task: transcribe }]\n', {
        file: 'p.yaml',
        checkFiles: false,
      }),
    ).toThrow('p.yaml:3:10: stages[0].model: required (a string)');
  });

  it("names a transcribe stage's bad beam-search settings", () => {
    const text = [
      'version: 1',
      'source: { type: wav, path: x.wav }',
      'stages: [{ task: transcribe, model: m, beam: 0, lmScale: -1, wordBonus: big }]',
      '',
    ].join('\n');
    let message = '';
    try {
      parsePipeline(text, { file: 'p.yaml', checkFiles: false });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('stages[0].beam');
    expect(message).toContain('stages[0].lmScale');
    expect(message).toContain('stages[0].wordBonus');
  });
});
