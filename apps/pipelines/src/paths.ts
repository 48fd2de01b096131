/**
 * The input paths of a source: files, folders (their files with the right extensions,
 * sorted, not recursive) and `*`/`?` patterns in a path's last part (`samples/*.png`).
 *
 * @module
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

/** Audio file extensions taken from a folder. */
export const WAV_EXTENSIONS: ReadonlySet<string> = new Set(['.wav']);

const isPattern = (p: string): boolean => /[*?]/.test(basename(p));

function patternRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

/**
 * The files one path entry stands for, or why it stands for none: a file as given (whatever
 * its extension: a file that is not what it claims becomes that item's error), a folder as
 * its files with `extensions`, a pattern as the files of its folder it matches.
 */
export function expandPath(
  path: string,
  extensions: ReadonlySet<string>,
): { files: string[]; problem?: string } {
  if (isPattern(path)) {
    const dir = dirname(path);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return { files: [], problem: `folder not found: ${dir}` };
    }
    const re = patternRegExp(basename(path));
    const files = names
      .filter((n) => re.test(n))
      .sort()
      .map((n) => join(dir, n))
      .filter((f) => statSync(f).isFile());
    return files.length > 0 ? { files } : { files, problem: `no file matches ${path}` };
  }
  let folder: boolean;
  try {
    folder = statSync(path).isDirectory();
  } catch {
    return { files: [], problem: `not found: ${path}` };
  }
  if (!folder) return { files: [path] };
  const files = readdirSync(path, { withFileTypes: true })
    .filter((e) => e.isFile() && extensions.has(extname(e.name).toLowerCase()))
    .map((e) => join(path, e.name))
    .sort();
  return files.length > 0
    ? { files }
    : { files, problem: `no ${[...extensions].join(' ')} files in the folder ${path}` };
}
