import type { History } from '../lib/history.js';

/** When a client-targeted fault (pause, kill, partition, delay, reset) was active on a process. */
export interface FaultWindow {
  readonly target: string;
  readonly kind: string;
  readonly start: number;
  readonly end: number;
}

/**
 * The nemesis's fault windows, from its `fault-start` / `fault-end` ops (value `{ kind, target }`); a fault
 * never ended in the history lasts forever (a killed process stays dead).
 */
export function faultWindows(history: History): FaultWindow[] {
  const open = new Map<string, { target: string; kind: string; start: number }>();
  const windows: FaultWindow[] = [];
  for (const op of history) {
    if (op.op !== 'fault-start' && op.op !== 'fault-end') continue;
    const { kind, target } = op.value as { kind: string; target: string };
    const key = `${kind}\u0000${target}`;
    if (op.op === 'fault-start') open.set(key, { target, kind, start: op.time });
    else {
      const started = open.get(key);
      if (started !== undefined) windows.push({ ...started, end: op.time });
      open.delete(key);
    }
  }
  for (const started of open.values()) windows.push({ ...started, end: Number.POSITIVE_INFINITY });
  return windows;
}

/** Whether some fault hit `process` during [from, to]. */
export function hadFault(
  windows: readonly FaultWindow[],
  process: string,
  from: number,
  to: number,
): boolean {
  return windows.some((w) => w.target === process && w.start <= to && from <= w.end);
}

/**
 * Processes the nemesis killed (SIGKILL). An operation such a process had sent but not yet recorded
 * when it died leaves no trace in the history, yet may land: the checkers count those as unknown.
 */
export function killedProcesses(history: History): Set<string> {
  const killed = new Set<string>();
  for (const op of history) {
    if (op.op !== 'fault-start') continue;
    const { kind, target } = op.value as { kind: string; target: string };
    if (kind === 'kill-process') killed.add(target);
  }
  return killed;
}
