import { readFileSync } from 'node:fs';

/** How an operation ended: applied, certainly not applied, or not known (reply lost, process died). */
export type Outcome = 'ok' | 'fail' | 'unknown';

/**
 * One recorded operation of a chaos run. Workload children write these as JSON lines (bigints as decimal
 * strings); the nemesis and the test harness add their own (`process: 'nemesis'` / `'checker'`).
 */
export interface HistoryOp {
  /** Who did it: `<role><n>#<incarnation>` for workload children, `nemesis`, or `checker` (ground truth). */
  readonly process: string;
  /** What was done, e.g. `acquire`, `write`, `deliver`, `pause-process`, `truth`. */
  readonly op: string;
  /** Invoke time: `performance.timeOrigin + performance.now()` (ms), comparable across local processes. */
  readonly time: number;
  /** Completion time on the same clock, when the operation completed. */
  readonly end?: number;
  readonly outcome: Outcome;
  readonly value?: unknown;
  readonly revision?: bigint;
  readonly token?: bigint;
  /** The error code (`CoordError.code`) or message of a failed or unknown operation. */
  readonly error?: string;
}

/** An ordered list of operations (file order per process; merged histories are sorted by `time`). */
export type History = readonly HistoryOp[];

/** What every checker returns: `ok` exactly when `anomalies` is empty. */
export interface CheckResult {
  readonly ok: boolean;
  readonly anomalies: string[];
}

/** Builds a {@link CheckResult} from the anomalies found. */
export function result(anomalies: string[]): CheckResult {
  return { ok: anomalies.length === 0, anomalies };
}

/** The clock every history entry uses (ms since the epoch, monotonic within a process). */
export function chaosNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Parses JSON lines written by a workload child. A last line cut short by a SIGKILL is dropped (the
 * operation it described is then simply absent, as if the process died before invoking it); a bad line
 * anywhere else throws, since it means the writer is broken.
 */
export function parseHistory(text: string): HistoryOp[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const ops: HistoryOp[] = [];
  lines.forEach((line, index) => {
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      if (index === lines.length - 1) return;
      throw new Error(`history line ${index + 1} is not JSON: ${line}`, { cause: err });
    }
    ops.push(fromJson(raw));
  });
  return ops;
}

/** Reads and parses one history file; a missing file (child died before writing) is an empty history. */
export function readHistoryFile(path: string): HistoryOp[] {
  try {
    return parseHistory(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Merges histories into one, ordered by invoke time (stable, so each process keeps its own order). */
export function mergeHistories(...histories: History[]): HistoryOp[] {
  return histories.flat().sort((a, b) => a.time - b.time);
}

/** Serialises one operation as a JSON line (the format the fixtures write). */
export function toJsonLine(op: HistoryOp): string {
  return JSON.stringify(op, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
}

/**
 * A few operations around the ones an anomaly names, for the failure message: every op whose `value`,
 * `token` or `revision` mentions one of `needles`, with `context` neighbours each side (by time).
 */
export function excerpt(history: History, needles: readonly string[], context = 3, limit = 40): string {
  const hits = new Set<number>();
  history.forEach((op, index) => {
    const text = toJsonLine(op);
    if (needles.some((needle) => needle !== '' && text.includes(needle))) {
      for (let i = Math.max(0, index - context); i <= Math.min(history.length - 1, index + context); i++)
        hits.add(i);
    }
  });
  const lines = [...hits]
    .sort((a, b) => a - b)
    .slice(0, limit)
    .map((i) => `  [${i}] ${toJsonLine(history[i]!)}`);
  return lines.length === 0 ? '  (no matching operation)' : lines.join('\n');
}

/** The needles worth searching for in an anomaly text: tokens, revisions, job ids and process names. */
export function needlesOf(anomaly: string): string[] {
  return [...new Set(anomaly.match(/[A-Za-z]+\d+#\d+|j-\d+|\b\d{2,}\b/g) ?? [])].slice(0, 6);
}

function fromJson(raw: Record<string, unknown>): HistoryOp {
  const { process, op, time, outcome } = raw;
  if (typeof process !== 'string' || typeof op !== 'string' || typeof time !== 'number')
    throw new Error(`history entry lacks process/op/time: ${JSON.stringify(raw)}`);
  if (outcome !== 'ok' && outcome !== 'fail' && outcome !== 'unknown')
    throw new Error(`history entry has a bad outcome: ${JSON.stringify(raw)}`);
  return {
    process,
    op,
    time,
    outcome,
    ...(typeof raw.end === 'number' ? { end: raw.end } : {}),
    ...(raw.value !== undefined ? { value: raw.value } : {}),
    ...(raw.revision !== undefined && raw.revision !== null
      ? { revision: BigInt(String(raw.revision)) }
      : {}),
    ...(raw.token !== undefined && raw.token !== null ? { token: BigInt(String(raw.token)) } : {}),
    ...(typeof raw.error === 'string' ? { error: raw.error } : {}),
  };
}
