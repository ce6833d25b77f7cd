import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

// Every etcd this process started and has not seen exit, and every data directory not yet removed. Kept
// per process (not per cluster) so one `exit` hook covers clusters a test forgot to stop.
const running = new Set<ChildProcess>();
const directories = new Set<string>();
let hooked = false;

/**
 * Records a child so that it is SIGKILLed if the test process exits (or is ended by SIGTERM, SIGINT or
 * SIGHUP) while it still runs: an etcd left behind keeps its ports and its tmpfs data.
 */
export function trackChild(child: ChildProcess): void {
  installExitHook();
  running.add(child);
  child.once('exit', () => running.delete(child));
}

/** Records a directory to be removed if the process exits before its owner removes it. */
export function trackDirectory(path: string): void {
  installExitHook();
  directories.add(path);
}

/** Forgets a directory its owner has removed. */
export function untrackDirectory(path: string): void {
  directories.delete(path);
}

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  // `exit` listeners must be synchronous; SIGKILL needs no waiting and works on a SIGSTOPped process too.
  process.on('exit', cleanUp);
  // A signal that kills the process skips `exit`, and vitest stops its fork workers with SIGTERM. So when
  // nobody else listens for the signal (the process is about to die of it), clean up and re-raise it with
  // ourselves removed, so the process dies of it exactly as it would have without us. When someone else
  // listens, that code owns the shutdown (and may still need etcd for it); `exit` covers us afterwards.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) return;
      cleanUp();
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Kills what is left, by each child's own handle (so by PID, never by name), and removes its directories. */
function cleanUp(): void {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
  running.clear();
  for (const path of directories) {
    try {
      rmSync(path, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Best effort at exit; a leftover directory in /dev/shm is harmless.
    }
  }
  directories.clear();
}
