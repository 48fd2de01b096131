import { BadInputError, type Device, setDefaultDevice } from '@rwkv-streams/core';
import { type StudioServer, startStudio } from '@rwkv-streams/studio';
import { type Command, InvalidArgumentError } from 'commander';
import { deviceOption } from '../options.js';
import { useDevice } from '../use-device.js';

/** The port `serve` listens on unless told otherwise. */
export const DEFAULT_STUDIO_PORT = 5177;

interface ServeFlags {
  device: Device;
  host: string;
  port: number;
  models?: string;
  maxUploadMb?: number;
}

/** What `serve` waits on; tests replace it (the default: SIGINT or SIGTERM). */
export interface ServeHooks {
  /** Resolves when the server should stop; gets the running server. */
  readonly stopWhen?: (server: StudioServer) => Promise<void>;
}

const port = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('--port must be a whole number from 0 (any free port) to 65535');
  return n;
};

const megabytes = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1024)
    throw new InvalidArgumentError('--max-upload-mb must be a number of megabytes above 0 and at most 1024');
  return n;
};

/** The first SIGINT or SIGTERM (a second one exits at once, for a stop that hangs). */
function signalled(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      const force = () => process.exit(130);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * `rwkv-streams serve`: the web studio on http://127.0.0.1:5177 (images, speech, forecast,
 * live pipeline figures over the shipped models). It prints the URL and runs until SIGINT
 * or SIGTERM, then closes its connections and releases the models.
 */
export function addServeCommand(program: Command, out: (text: string) => void, hooks: ServeHooks = {}): void {
  program
    .command('serve')
    .description('start the web studio: images, speech, forecasts and live pipeline metrics in the browser')
    .option('--host <host>', 'address to listen on (0.0.0.0: every interface)', '127.0.0.1')
    .option('--port <port>', `port (0: any free one)`, port, DEFAULT_STUDIO_PORT)
    .option('--models <dir>', 'folder holding the model folders (default: the models/ we ship)')
    .option('--max-upload-mb <n>', 'largest image or CSV upload, megabytes (default 10)', megabytes)
    .addOption(deviceOption())
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  rwkv-streams serve                         # http://127.0.0.1:5177',
        '  rwkv-streams serve --port 8080 --max-upload-mb 50',
        '  rwkv-streams serve --host 0.0.0.0          # reachable from other machines',
        '',
        'Models are loaded on first use. Prometheus figures of every stage are at /metrics.',
      ].join('\n'),
    )
    .action(async (flags: ServeFlags) => {
      // the studio's models name no device of their own, so they all follow this one
      await useDevice(flags.device);
      setDefaultDevice(flags.device);
      let server: StudioServer;
      try {
        server = await startStudio({
          host: flags.host,
          port: flags.port,
          ...(flags.models ? { modelsDir: flags.models } : {}),
          ...(flags.maxUploadMb
            ? { limits: { maxUploadBytes: Math.round(flags.maxUploadMb * 1024 * 1024) } }
            : {}),
        });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE')
          throw new BadInputError(
            `port ${flags.port} is in use; give another with --port N (0: any free port)`,
            {
              field: '--port',
            },
          );
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
          throw new BadInputError(`cannot listen on ${flags.host} (${code})`, { field: '--host' });
        throw err;
      }
      out(`rwkv-streams studio: ${server.url}  (Ctrl+C to stop)\n`);
      if (!LOCAL_HOSTS.has(flags.host))
        out(`note: listening on ${flags.host}: anyone who can reach this machine can use the studio\n`);
      await (hooks.stopWhen ?? signalled)(server);
      out('rwkv-streams studio: stopping\n');
      await server.close();
    });
}
