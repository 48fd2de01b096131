import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, homedir, tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { BackendUnavailableError } from '@rwkv-streams/core';

/** Flags every library is built with: the host's own instruction set, OpenMP threads. */
export const C_FLAGS: readonly string[] = [
  '-O3',
  '-march=native',
  '-fopenmp',
  // math functions never set errno here, so the compiler may inline them (lrintf, sqrtf)
  '-fno-math-errno',
  '-shared',
  '-fPIC',
  '-std=c11',
  // never unloaded, not even when koffi closes its libraries as the process exits: the last
  // library going would take libgomp with it while its worker threads still spin (a SIGSEGV
  // in a libgomp thread after the last output, 3 exits of 4 with two models loaded)
  '-Wl,-z,nodelete',
];

/** The compilers looked for in PATH, in order, when RWKV_STREAMS_CC does not name one. */
const CANDIDATES = ['cc', 'gcc', 'clang'];

/** A C compiler found on this machine. */
export interface CCompiler {
  readonly path: string;
  /** Its first line of `--version`: part of every cache key. */
  readonly version: string;
}

let found: CCompiler | undefined;

/**
 * The C compiler this backend builds with: RWKV_STREAMS_CC (a path or a name in PATH), else
 * the first of cc, gcc, clang in PATH. Throws a BackendUnavailableError naming what it looked
 * for and where when there is none.
 */
export function findCCompiler(env: NodeJS.ProcessEnv = process.env): CCompiler {
  if (found && env === process.env) return found;
  const wanted = env['RWKV_STREAMS_CC'];
  const dirs = (env['PATH'] ?? '').split(delimiter).filter(Boolean);
  const resolve = (name: string) =>
    isAbsolute(name)
      ? existsSync(name)
        ? name
        : undefined
      : dirs.map((d) => join(d, name)).find(existsSync);
  const names = wanted ? [wanted] : CANDIDATES;
  for (const name of names) {
    const path = resolve(name);
    if (!path) continue;
    let version: string;
    try {
      version = execFileSync(path, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] })
        .toString()
        .split('\n')[0]!
        .trim();
    } catch {
      continue;
    }
    const compiler = { path, version };
    if (env === process.env) found = compiler;
    return compiler;
  }
  throw new BackendUnavailableError(
    `no C compiler found for the native CPU backend: looked for ${names.join(', ')} ${
      wanted && isAbsolute(wanted) ? '' : `in PATH (${dirs.join(delimiter) || 'empty'})`
    }; set RWKV_STREAMS_CC to one, or use the onnxruntime backend`,
    { field: 'RWKV_STREAMS_CC' },
  );
}

/** Whether `findCCompiler` finds a compiler (tests and tools that skip without one). */
export function haveCCompiler(env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    findCCompiler(env);
    return true;
  } catch {
    return false;
  }
}

/** Where built libraries are kept: RWKV_STREAMS_CACHE, else ~/.cache/rwkv-streams (tmp as a last resort). */
function cacheDir(env: NodeJS.ProcessEnv): string {
  const base =
    env['RWKV_STREAMS_CACHE'] ??
    (env['XDG_CACHE_HOME']
      ? join(env['XDG_CACHE_HOME'], 'rwkv-streams')
      : join(homedir() || tmpdir(), '.cache', 'rwkv-streams'));
  return join(base, 'cpu-native');
}

const run = promisify(execFile);

/**
 * Builds `source` into a shared library, or finds it already built: the file is keyed by the
 * source, the compiler, its flags and the CPU (the build targets the host's instruction set).
 * Resolves to the library's path; a failed build rejects with a BackendUnavailableError
 * carrying the compiler's message. The compiler runs as a child process the event loop does
 * not wait on: a model's first build takes seconds (the 0.1B RWKV-7's two graphs: about 12 s
 * here), during which the process stays responsive.
 */
export async function buildLibrary(source: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const compiler = findCCompiler(env);
  const key = createHash('sha256')
    .update(source)
    .update(compiler.version)
    .update(C_FLAGS.join(' '))
    .update(cpus()[0]?.model ?? 'unknown cpu')
    .digest('hex')
    .slice(0, 24);
  const dir = cacheDir(env);
  const library = join(dir, `graph-${key}.so`);
  if (existsSync(library)) return library;
  mkdirSync(dir, { recursive: true });
  // built under a name of its own, then renamed: two processes building the same graph never
  // load each other's half-written file
  const unique = `${key}-${process.pid}-${Date.now()}`;
  const sourcePath = join(dir, `graph-${unique}.c`);
  const partial = join(dir, `graph-${unique}.so.partial`);
  writeFileSync(sourcePath, source);
  try {
    await run(compiler.path, [...C_FLAGS, sourcePath, '-o', partial, '-lm'], { maxBuffer: 16 * 2 ** 20 });
    renameSync(partial, library);
  } catch (err) {
    const e = err as { stderr?: string | Buffer; message: string };
    throw new BackendUnavailableError(
      `the native CPU backend could not build its library with ${compiler.path} (${compiler.version}): ${
        e.stderr?.toString().slice(0, 2000) || e.message
      }`,
      { field: 'RWKV_STREAMS_CC' },
    );
  } finally {
    rmSync(sourcePath, { force: true });
    rmSync(partial, { force: true });
  }
  return library;
}
