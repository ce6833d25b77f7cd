import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

// Every etcd this process started and has not seen exit, and every data directory not yet removed. Kept
// per process (not per cluster) so one `exit` hook covers clusters a test forgot to stop.
const running = new Set<ChildProcess>();
const directories = new Set<string>();
let hooked = false;

/**
 * Records a child so that it is SIGKILLed if the test process exits while it still runs: an etcd left
 * behind keeps its ports and its tmpfs data and confuses the next run.
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
  // Only children started here are signalled, by their own handle (hence PID), never by name.
  process.on('exit', () => {
    for (const child of running) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
    for (const path of directories) {
      try {
        rmSync(path, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // Best effort at exit; a leftover directory in /dev/shm is harmless.
      }
    }
  });
}
