/** The helper process of `Launcher`: runs each command it is sent and sends back the result. */
import { spawnSync } from 'node:child_process';
import type { LaunchRequest, LaunchResult } from './launcher.js';

process.on('message', (m: LaunchRequest) => {
  const r = spawnSync(m.file, m.args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const result: LaunchResult = {
    id: m.id,
    status: r.status,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    ...(r.error ? { error: r.error.message } : {}),
  };
  process.send?.(result);
});
