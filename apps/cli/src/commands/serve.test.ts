import { createServer } from 'node:net';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../test/run-cli.js';
import { ExitCode } from '../main.js';
import { addServeCommand } from './serve.js';

/**
 * `rwkv-streams serve`: starts the studio on localhost (or the host given), prints its URL,
 * serves until told to stop, then closes; a port in use or bad flags are clear errors.
 * (The studio itself is tested in apps/studio.)
 */
afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs `serve` with `args`; `whileUp` runs against the server, then it is stopped. */
async function serve(args: string[], whileUp: (url: string) => Promise<void>): Promise<string> {
  let out = '';
  const program = new Command('rwkv-streams').exitOverride();
  addServeCommand(
    program,
    (s) => {
      out += s;
    },
    {
      stopWhen: async (server) => {
        await whileUp(server.url);
      },
    },
  );
  await program.parseAsync(['node', 'rwkv-streams', 'serve', ...args]);
  return out;
}

describe('rwkv-streams serve', () => {
  it('prints the URL, serves the pages and API on 127.0.0.1, stops when asked', async () => {
    let url = '';
    const out = await serve(['--port', '0', '--max-upload-mb', '0.001'], async (u) => {
      url = u;
      expect((await fetch(`${u}/images`)).status).toBe(200);
      const config = (await (await fetch(`${u}/api/config`)).json()) as { maxUploadBytes: number };
      expect(config.maxUploadBytes).toBe(1049);
      const big = await fetch(`${u}/api/classify`, { method: 'POST', body: Buffer.alloc(2000) });
      expect(big.status).toBe(413);
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(out).toBe(`rwkv-streams studio: ${url}  (Ctrl+C to stop)\nrwkv-streams studio: stopping\n`);
    await expect(fetch(`${url}/images`)).rejects.toThrow();
  });

  it('says when it listens beyond this machine', async () => {
    const out = await serve(['--port', '0', '--host', '0.0.0.0'], async () => undefined);
    expect(out).toContain(
      'note: listening on 0.0.0.0: anyone who can reach this machine can use the studio\n',
    );
  });

  it('a port in use is an error naming the flag (exit 1); bad flags are usage errors (exit 2)', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as { port: number };
    try {
      const r = await runCli('serve', '--port', String(port));
      expect(r.code).toBe(ExitCode.failure);
      expect(r.err).toBe(
        `rwkv-streams: BAD_INPUT: field '--port': port ${port} is in use; give another with --port N (0: any free port)\n`,
      );
    } finally {
      blocker.close();
    }
    for (const args of [
      ['--port', 'x'],
      ['--port', '70000'],
      ['--max-upload-mb', '0'],
      ['--device', 'tpu'],
    ]) {
      const r = await runCli('serve', ...args);
      expect(r.code, args.join(' ')).toBe(ExitCode.usage);
    }
  });
});
