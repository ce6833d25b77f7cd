import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** How {@link runWhileHeld} ended. */
export interface ChildOutcome {
  /** The child's exit code, or 128 + signal number when a signal ended it (shell convention). */
  readonly code: number;
  /** True when the child was stopped because `lost` aborted. */
  readonly stoppedOnLoss: boolean;
}

/**
 * Runs `command` with extra environment variables while something is held, and stops it when
 * `lost` aborts: SIGTERM first, SIGKILL after `graceMs`, because a command that keeps writing
 * after its lock is gone is exactly what fencing exists to stop. SIGINT/SIGTERM sent to `coord` are
 * forwarded to the child so that Ctrl-C behaves as if the command ran directly.
 */
export function runWhileHeld(
  command: readonly string[],
  env: Record<string, string>,
  lost: AbortSignal,
  graceMs: number,
): Promise<ChildOutcome> {
  const [file, ...args] = command;
  if (!file) return Promise.resolve({ code: 64, stoppedOnLoss: false });
  const child = spawn(file, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  let stoppedOnLoss = false;
  let killTimer: NodeJS.Timeout | undefined;
  const onLost = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    stoppedOnLoss = true;
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  };
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  if (lost.aborted) onLost();
  else lost.addEventListener('abort', onLost, { once: true });
  return new Promise((resolve) => {
    const finish = (code: number) => {
      if (killTimer) clearTimeout(killTimer);
      lost.removeEventListener('abort', onLost);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve({ code, stoppedOnLoss });
    };
    child.on('error', () => finish(127));
    child.on('exit', (code, signal) => {
      const signalNumber = signal ? (constants.signals[signal] ?? 0) : 0;
      finish(code ?? 128 + signalNumber);
    });
  });
}
