/**
 * Starts other programs from a small helper process, so that the process holding our model
 * never forks while it is being timed.
 *
 * Why: Node starts a child with fork + exec, and fork write-protects every page of the
 * parent; afterwards each first write to a page faults, and in a multi-threaded process each
 * fault flushes the other threads' TLBs (an inter-processor interrupt: a VM exit on a
 * virtual machine). Measured on this 2-core VM (`bench/README.md`, "Forking from the timed
 * process"): after one `spawnSync('true')` from a process with the int4 0.1B model loaded,
 * its next 96 decode tokens took about 13,000 page faults and the first 8 of them 19-25 ms
 * each instead of 7-10. Only our side paid it: rwkv.cpp is timed in a fresh process of its
 * own. The helper is forked once, before any model is loaded, and runs each command itself.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A command for the helper: a program and its arguments. */
export interface LaunchRequest {
  readonly id: number;
  readonly file: string;
  readonly args: readonly string[];
}

/** What a command gave: as `spawnSync` reports it. */
export interface LaunchResult {
  readonly id: number;
  /** Exit status, or null when killed by a signal or not started. */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Why the program could not be started, if it could not. */
  readonly error?: string;
}

/** The helper process and the commands waiting for it. */
export class Launcher {
  private next = 0;
  private readonly waiting = new Map<number, (r: LaunchResult) => void>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: LaunchResult) => {
      const done = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      done?.(m);
    });
    child.on('exit', (code) => {
      for (const [id, done] of this.waiting)
        done({ id, status: null, stdout: '', stderr: '', error: `launcher exited (${code})` });
      this.waiting.clear();
    });
  }

  /** Forks the helper: call this while the process is still small (before loading models). */
  static start(): Launcher {
    const entry = fileURLToPath(new URL('./launcher-child.js', import.meta.url));
    return new Launcher(fork(entry, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  /** Runs `file args` in the helper and resolves with its status and output. */
  run(file: string, args: readonly string[]): Promise<LaunchResult> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ id, file, args } satisfies LaunchRequest);
    });
  }

  /** Ends the helper. */
  close(): void {
    this.child.disconnect();
  }
}
