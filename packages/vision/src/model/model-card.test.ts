import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileNotFoundError, MalformedFileError } from '@rwkv-streams/core';
import { afterAll, describe, expect, it } from 'vitest';
import { readVisionModelCard } from './model-card.js';

const tmp = mkdtempSync(join(tmpdir(), 'vision-card-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const models = fileURLToPath(new URL('../../../../models/', import.meta.url));

describe('readVisionModelCard', () => {
  it('reads the cards of the models we ship', () => {
    const fashion = readVisionModelCard(join(models, 'vrwkv-fashion-mnist/config.json'));
    expect(fashion.labels).toHaveLength(10);
    expect(fashion.inChannels).toBe(1);
    const scenes = readVisionModelCard(join(models, 'vrwkv-mnist-scenes/config.json'));
    expect(scenes.background).toBeTypeOf('number');
  });

  it('names the file and the field of a bad card', () => {
    const write = (name: string, body: unknown) => {
      const file = join(tmp, name);
      writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
      return file;
    };
    const good = { labels: ['a', 'b'], mean: [0], std: [1], imageSize: 28 };
    expect(readVisionModelCard(write('ok.json', good))).toEqual({ ...good, inChannels: 1 });
    expect(() => readVisionModelCard(join(tmp, 'absent.json'))).toThrow(FileNotFoundError);
    expect(() => readVisionModelCard(write('text.json', 'labels: a'))).toThrow(/not JSON/);
    for (const [field, value] of [
      ['labels', [1, 2]],
      ['mean', []],
      ['std', 'one'],
      ['imageSize', 0],
      ['inChannels', 2],
      ['background', 'none'],
    ] as const) {
      const file = write(`${field}.json`, { ...good, [field]: value });
      let caught: unknown;
      try {
        readVisionModelCard(file);
      } catch (e) {
        caught = e;
      }
      expect(caught, field).toBeInstanceOf(MalformedFileError);
      expect((caught as MalformedFileError).field, field).toBe(field);
    }
  });
});
