import { readFileSync } from 'node:fs';
import { FileNotFoundError } from '@rwkv-streams/core';

/**
 * Class names from a text file, one per line (blank lines at the end ignored), in
 * class-index order. A missing file is a FileNotFoundError naming it.
 */
export function loadLabels(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new FileNotFoundError(`labels file not found: ${path}`, { file: path });
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
