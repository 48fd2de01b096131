/**
 * Builds rwkv.cpp from a source tree (or from git mirrors, through
 * bench/rwkv-cpp/prepare-source.sh) into a cache folder outside the repository, and
 * compiles our driver (bench/rwkv-cpp/driver.c) against it. Both builds are reused when
 * their inputs are unchanged.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/rwkv-cpp (C sources and scripts): two levels up from src/rwkv-cpp or dist/rwkv-cpp. */
export const RWKV_CPP_BENCH_DIR = fileURLToPath(new URL('../../rwkv-cpp/', import.meta.url));

/** Default cache root: `$TMPDIR/rwkv-streams-bench` (outside the repository). */
export function defaultCacheRoot(): string {
  return join(process.env['RWKV_STREAMS_BENCH_CACHE'] ?? tmpdir(), 'rwkv-streams-bench');
}

/** CMake options of the rwkv.cpp build (Release, -march=native through both rwkv.cpp's and ggml's switches). */
export const RWKV_CPP_CMAKE_FLAGS: readonly string[] = [
  '-DCMAKE_BUILD_TYPE=Release',
  '-DRWKV_NATIVE=ON',
  '-DGGML_NATIVE=ON',
  '-DRWKV_BUILD_SHARED_LIBRARY=ON',
  '-DRWKV_STANDALONE=ON',
  '-DRWKV_ALL_WARNINGS=OFF',
  '-DGGML_CCACHE=OFF',
];

/** What {@link prepareRwkvCpp} produced. */
export interface RwkvCppBuild {
  /** The rwkv.cpp source tree (holds rwkv.h, ggml/). */
  readonly source: string;
  /** `rwkv.cpp <commit>` / `ggml <commit>` lines when the tree came from prepare-source.sh, else ''. */
  readonly provenance: string;
  /** CMake build folder holding librwkv. */
  readonly buildDir: string;
  /** Our compiled driver. */
  readonly driver: string;
  /** True when the library was built now (false: reused). */
  readonly builtNow: boolean;
}

export interface PrepareOptions {
  /** `--rwkv-cpp DIR`: an rwkv.cpp source tree, or an rwkv.cpp git mirror (bare, clone, or folder with repo/). */
  readonly dir: string;
  /** ggml mirror for a mirror `dir` (default: `ggerganov+ggml` beside it). */
  readonly ggmlMirror?: string;
  /** Cache root (default {@link defaultCacheRoot}). */
  readonly cacheRoot?: string;
  /** Build jobs (default: all cores). */
  readonly jobs?: number;
  /** Progress lines go here (default stderr). */
  readonly log?: (line: string) => void;
}

const isSourceTree = (d: string): boolean =>
  existsSync(join(d, 'CMakeLists.txt')) &&
  existsSync(join(d, 'rwkv.h')) &&
  existsSync(join(d, 'ggml', 'CMakeLists.txt'));

function isGitDir(d: string): boolean {
  const r = spawnSync('git', ['--git-dir', d, 'rev-parse', '--git-dir'], { stdio: 'ignore' });
  return r.status === 0;
}

const isMirror = (d: string): boolean =>
  [d, join(d, 'repo'), join(d, '.git')].some((c) => existsSync(c) && isGitDir(c));

/**
 * Resolves `--rwkv-cpp DIR` to a source tree (exporting one from the mirrors when DIR is
 * a mirror), builds librwkv into `<cache>/rwkv-cpp-build/<key>` unless a build of the
 * same source and flags is there, and compiles the driver beside it.
 */
export function prepareRwkvCpp(options: PrepareOptions): RwkvCppBuild {
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const cacheRoot = resolve(options.cacheRoot ?? defaultCacheRoot());
  const dir = resolve(options.dir);
  let source: string;
  if (isSourceTree(dir)) {
    source = realpathSync(dir);
  } else if (isMirror(dir)) {
    const ggml = resolve(
      options.ggmlMirror ?? join(dirname(dir.replace(/\/repo\/?$/, '')), 'ggerganov+ggml'),
    );
    source = join(
      cacheRoot,
      'rwkv-cpp-src',
      createHash('sha256').update(`${dir}\n${ggml}`).digest('hex').slice(0, 12),
    );
    log(`rwkv.cpp: exporting sources from ${dir} and ${ggml} to ${source}`);
    execFileSync('bash', [join(RWKV_CPP_BENCH_DIR, 'prepare-source.sh'), dir, ggml, source], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } else {
    throw new Error(
      `--rwkv-cpp ${dir}: neither an rwkv.cpp source tree (CMakeLists.txt, rwkv.h, ggml/CMakeLists.txt) nor a git mirror; make one with bench/rwkv-cpp/prepare-source.sh MIRROR_RWKV MIRROR_GGML OUTDIR`,
    );
  }
  const stampFile = join(source, '.rwkv-streams-source');
  const provenance = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';
  // Key: where the source is, what it is (the stamp, else rwkv.cpp's mtime), and the flags.
  const identity = provenance || `mtime ${statSync(join(source, 'rwkv.cpp')).mtimeMs}`;
  const key = createHash('sha256')
    .update(`${source}\n${identity}\n${RWKV_CPP_CMAKE_FLAGS.join(' ')}`)
    .digest('hex')
    .slice(0, 12);
  const buildDir = join(cacheRoot, 'rwkv-cpp-build', key);
  const buildStamp = join(buildDir, '.rwkv-streams-build');
  let lib = findLibrary(buildDir);
  let builtNow = false;
  if (lib === undefined || !existsSync(buildStamp)) {
    mkdirSync(buildDir, { recursive: true });
    const jobs = String(options.jobs ?? cpus().length);
    log(`rwkv.cpp: building ${source} in ${buildDir} (cmake ${RWKV_CPP_CMAKE_FLAGS.join(' ')})`);
    run('cmake', ['-S', source, '-B', buildDir, ...RWKV_CPP_CMAKE_FLAGS], buildDir, 'cmake-configure.log');
    run('cmake', ['--build', buildDir, '--target', 'rwkv', '-j', jobs], buildDir, 'cmake-build.log');
    lib = findLibrary(buildDir);
    if (lib === undefined) throw new Error(`the rwkv.cpp build in ${buildDir} produced no librwkv`);
    writeFileSync(buildStamp, `${source}\n${identity}\n${RWKV_CPP_CMAKE_FLAGS.join(' ')}\n`);
    builtNow = true;
  } else {
    log(`rwkv.cpp: reusing the build in ${buildDir}`);
  }
  const driver = buildDriver(source, buildDir, log);
  return { source, provenance, buildDir, driver, builtNow };
}

function findLibrary(buildDir: string): string | undefined {
  for (const name of ['librwkv.so', 'librwkv.dylib', join('bin', 'librwkv.so')]) {
    const p = join(buildDir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Runs a build step, logging to `<buildDir>/<logName>`; on failure throws with the log's tail. */
function run(cmd: string, args: string[], buildDir: string, logName: string): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  writeFileSync(join(buildDir, logName), text);
  if (r.status !== 0) {
    const tail = text.split('\n').slice(-30).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed (log: ${join(buildDir, logName)}):\n${tail}`);
  }
}

/** Compiles bench/rwkv-cpp/driver.c against the built library (reused while driver.c is unchanged). */
function buildDriver(source: string, buildDir: string, log: (l: string) => void): string {
  const src = join(RWKV_CPP_BENCH_DIR, 'driver.c');
  const text = readFileSync(src);
  const cc = process.env['CC'] ?? 'cc';
  const args = [
    '-O2',
    '-std=c11',
    '-march=native',
    '-I',
    source,
    src,
    '-L',
    buildDir,
    '-lrwkv',
    `-Wl,-rpath,${buildDir}`,
  ];
  const hash = createHash('sha256').update(text).update(cc).update(args.join(' ')).digest('hex').slice(0, 12);
  const out = join(buildDir, `rwkv-streams-driver-${hash}`);
  if (!existsSync(out)) {
    log(`rwkv.cpp: compiling ${basename(src)} -> ${out}`);
    const r = spawnSync(cc, [...args, '-o', out], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cc} ${args.join(' ')} -o ${out} failed:\n${r.stdout}${r.stderr}`);
  }
  return out;
}
