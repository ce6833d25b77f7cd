import { type CheckResult, type History, type HistoryOp, result } from '../lib/history.js';

/** Ground truth for a watch workload: what each revision wrote, read back (or recorded) at the end. */
export interface WatchTruth {
  /** Every write of the run: its revision (decimal string) and the keys it wrote, in key order. */
  readonly entries: readonly { revision: string; keys: readonly string[] }[];
  /** Keys of writes whose outcome stayed unknown and whose revision is therefore not in `entries`. */
  readonly unknownKeys?: readonly string[];
  /** Every observer's last incarnation must have delivered up to this revision (decimal string). */
  readonly mustReach?: string;
}

/** Options of {@link checkWatch}. */
export interface WatchCheckOptions {
  /** Keys within one revision must arrive in key order (pubsub: a batch's publish order). Default false. */
  readonly keyOrderWithinRevision?: boolean;
  /**
   * Revisions may be skipped across a compaction (config re-reads the state instead of replaying history):
   * a gap between delivered revisions L and N is allowed when a nemesis `compact` op with revision > L
   * happened before N was delivered. Default false (pubsub must never skip).
   */
  readonly gapsAcrossCompaction?: boolean;
}

interface Batch {
  readonly revision: bigint;
  readonly keys: string[];
  readonly time: number;
}

/**
 * Checks etcd's watch guarantees as a consumer sees them. Expects per observer incarnation (one `process`
 * each, `<role>#<n>`): an optional `subscribe` op whose `revision` is the first revision it asked for, then
 * `deliver` ops (`revision`, value `{ keys }`) in arrival order, and `gap` ops (`revision`: first revision
 * still available) when it was told history was lost; plus one `truth` op ({@link WatchTruth}).
 *
 * Checks: ordered (revisions strictly increase, a revision's deliveries are contiguous); unique (no key
 * twice); atomic (a revision arrives with exactly the keys it wrote); no phantom (nothing delivered that
 * was never written); reliable (no written revision missing between the start and the last delivery, nor
 * between incarnations of one role, unless the observer reported the loss); caught up (`mustReach`).
 */
export function checkWatch(history: History, options: WatchCheckOptions = {}): CheckResult {
  const anomalies: string[] = [];
  const truthOp = history.find((op) => op.op === 'truth');
  if (truthOp === undefined) return result(['watch: no ground truth (truth op) in the history']);
  const truth = truthOp.value as WatchTruth;
  const written = new Map<bigint, string[]>();
  for (const entry of truth.entries) written.set(BigInt(entry.revision), [...entry.keys]);
  const unknownKeys = new Set(truth.unknownKeys ?? []);
  const compactions = history.filter((op) => op.op === 'compact' && op.revision !== undefined);

  const roles = new Map<string, string[]>();
  const byProcess = new Map<string, HistoryOp[]>();
  for (const op of history) {
    if (op.op !== 'deliver' && op.op !== 'subscribe' && op.op !== 'gap') continue;
    const list = byProcess.get(op.process) ?? [];
    if (list.length === 0) {
      const role = op.process.replace(/#\d+$/, '');
      roles.set(role, [...(roles.get(role) ?? []), op.process]);
    }
    list.push(op);
    byProcess.set(op.process, list);
  }

  const delivered = new Map<string, Set<bigint>>();
  const lostBelow = new Map<string, bigint>();
  const bounds = new Map<string, { start: bigint | undefined; last: bigint | undefined }>();
  for (const [process, ops] of byProcess) {
    const role = process.replace(/#\d+$/, '');
    const seen = delivered.get(role) ?? new Set<bigint>();
    delivered.set(role, seen);
    const subscribe = ops.find((op) => op.op === 'subscribe');
    for (const gap of ops.filter((op) => op.op === 'gap' && op.revision !== undefined))
      lostBelow.set(role, bigMax(lostBelow.get(role) ?? 0n, gap.revision!));
    const batches = batchesOf(ops, process, anomalies);
    const keysSeen = new Set<string>();
    let previous: Batch | undefined;
    for (const batch of batches) {
      seen.add(batch.revision);
      if (previous !== undefined && batch.revision <= previous.revision)
        anomalies.push(
          `watch: ${process} received revision ${batch.revision} after ${previous.revision} (${batch.revision === previous.revision ? 'duplicate' : 'reordered'})`,
        );
      for (const key of batch.keys) {
        if (keysSeen.has(key))
          anomalies.push(`watch: ${process} received ${key} twice (revision ${batch.revision})`);
        keysSeen.add(key);
      }
      if (options.keyOrderWithinRevision && batch.keys.some((key, i) => i > 0 && key < batch.keys[i - 1]!))
        anomalies.push(
          `watch: ${process} received revision ${batch.revision}'s keys out of order: ${batch.keys.join(', ')}`,
        );
      const expected = written.get(batch.revision);
      if (expected === undefined) {
        if (!batch.keys.every((key) => unknownKeys.has(key)))
          anomalies.push(
            `watch: ${process} received revision ${batch.revision} (${batch.keys.join(', ')}), which nothing wrote`,
          );
      } else {
        const missing = expected.filter((key) => !batch.keys.includes(key));
        const extra = batch.keys.filter((key) => !expected.includes(key));
        if (missing.length > 0)
          anomalies.push(
            `watch: ${process} received revision ${batch.revision} without ${missing.join(', ')} (not atomic: the revision wrote ${expected.join(', ')})`,
          );
        if (extra.length > 0)
          anomalies.push(
            `watch: ${process} received ${extra.join(', ')} at revision ${batch.revision}, which it did not write`,
          );
      }
      if (previous !== undefined) checkNoGap(previous, batch, process);
      previous = batch;
    }
    const start = subscribe?.revision ?? batches[0]?.revision;
    // A subscription that starts at S already accounts for everything before S (a snapshot, or the
    // previous incarnation's deliveries), so it has reached S - 1 even before its first delivery.
    const reached =
      previous?.revision ?? (subscribe?.revision !== undefined ? subscribe.revision - 1n : undefined);
    bounds.set(process, { start, last: reached });
    if (start !== undefined && batches[0] !== undefined)
      checkNoGap({ revision: start - 1n, keys: [], time: subscribe?.time ?? 0 }, batches[0], process);
  }

  // Across incarnations of one role: the union of deliveries must cover every write from the first start.
  for (const [role, processes] of roles) {
    const seen = delivered.get(role) ?? new Set<bigint>();
    const starts = processes.map((p) => bounds.get(p)?.start).filter((s): s is bigint => s !== undefined);
    const lasts = processes.map((p) => bounds.get(p)?.last).filter((s): s is bigint => s !== undefined);
    if (starts.length === 0 || lasts.length === 0) continue;
    const from = starts.reduce(bigMin);
    const to = lasts.reduce(bigMax);
    const lostUpTo = lostBelow.get(role) ?? 0n;
    if (!options.gapsAcrossCompaction) {
      for (const revision of written.keys())
        if (revision >= from && revision <= to && revision >= lostUpTo && !seen.has(revision))
          anomalies.push(
            `watch: ${role} never received revision ${revision} (gap across reconnects or restarts)`,
          );
    }
    if (truth.mustReach !== undefined) {
      const lastIncarnation = processes[processes.length - 1]!;
      const reached = bounds.get(lastIncarnation)?.last ?? 0n;
      if (reached < BigInt(truth.mustReach))
        anomalies.push(
          `watch: ${lastIncarnation} stopped at revision ${reached}, short of the last write at ${truth.mustReach}`,
        );
    }
  }
  return result([...new Set(anomalies)]);

  function checkNoGap(previous: Batch, next: Batch, process: string): void {
    const role = process.replace(/#\d+$/, '');
    const lostUpTo = lostBelow.get(role) ?? 0n;
    const skipped = [...written.keys()]
      .filter((r) => r > previous.revision && r < next.revision && r >= lostUpTo)
      .sort((a, b) => (a < b ? -1 : 1));
    if (skipped.length === 0) return;
    const excused =
      options.gapsAcrossCompaction &&
      compactions.some((c) => c.revision! > previous.revision && c.time <= next.time);
    if (!excused)
      anomalies.push(
        `watch: ${process} skipped revision${skipped.length > 1 ? 's' : ''} ${skipped.slice(0, 5).join(', ')} between ${previous.revision} and ${next.revision} (gap)`,
      );
  }
}

/** Groups consecutive deliveries of one revision into one batch; a revision split by another is reported. */
function batchesOf(ops: readonly HistoryOp[], process: string, anomalies: string[]): Batch[] {
  const batches: Batch[] = [];
  for (const op of ops) {
    if (op.op !== 'deliver' || op.revision === undefined) continue;
    const keys = (op.value as { keys: string[] }).keys;
    const last = batches[batches.length - 1];
    if (last !== undefined && last.revision === op.revision) last.keys.push(...keys);
    else {
      if (batches.some((b) => b.revision === op.revision))
        anomalies.push(
          `watch: ${process} received revision ${op.revision} in two separate parts (not atomic, or duplicated)`,
        );
      batches.push({ revision: op.revision, keys: [...keys], time: op.time });
    }
  }
  return batches;
}

function bigMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
