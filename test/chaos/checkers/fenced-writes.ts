import type { HistoryOp } from '../lib/history.js';
import { killedProcesses } from './fault-windows.js';

/** One guarded write, as recorded by its holder or as read back from etcd. */
export interface FencedWrite {
  /** Unique id of the write (the key suffix it created). */
  readonly id: string;
  readonly token: bigint;
  /** The revision it committed at. */
  readonly revision: bigint;
  readonly process: string;
}

/** Ground truth of a fenced-write workload: every write key found in etcd at the end, with its create revision. */
export interface FencedTruth {
  readonly writes: readonly { id: string; token: string; revision: string; process: string }[];
}

/**
 * The fencing property on writes in etcd commit order: tokens never decrease (a deposed holder's write
 * cannot land after a newer holder's), no two writes share a revision, and one token belongs to one process
 * (so two holders' writes cannot interleave without a decrease showing it).
 */
export function checkFencedOrder(writes: readonly FencedWrite[], label: string): string[] {
  const anomalies: string[] = [];
  const sorted = [...writes].sort((a, b) => (a.revision < b.revision ? -1 : a.revision > b.revision ? 1 : 0));
  const ownerOfToken = new Map<bigint, string>();
  let highest: FencedWrite | undefined;
  let previous: FencedWrite | undefined;
  for (const write of sorted) {
    if (previous !== undefined && previous.revision === write.revision && previous.id !== write.id)
      anomalies.push(
        `${label}: writes ${previous.id} and ${write.id} both committed at revision ${write.revision}`,
      );
    const owner = ownerOfToken.get(write.token);
    if (owner === undefined) ownerOfToken.set(write.token, write.process);
    else if (owner !== write.process)
      anomalies.push(
        `${label}: token ${write.token} used by two holders, ${owner} and ${write.process} (write ${write.id} at revision ${write.revision})`,
      );
    if (highest !== undefined && write.token < highest.token)
      anomalies.push(
        `${label}: token decreased: write ${write.id} of ${write.process} with token ${write.token} committed at revision ${write.revision}, after write ${highest.id} of ${highest.process} with token ${highest.token} at revision ${highest.revision} (holders interleaved)`,
      );
    if (highest === undefined || write.token > highest.token) highest = write;
    previous = write;
  }
  return anomalies;
}

/**
 * Checks recorded guarded writes (`op: 'write'`) against each other and against the ground truth read back
 * from etcd (`op: 'truth'`, value {@link FencedTruth}), and that each write's token was granted to its
 * process by an `ok` op named `grantOp`.
 */
export function checkFencedWrites(ops: readonly HistoryOp[], grantOp: string, label: string): string[] {
  const anomalies: string[] = [];
  const grants = ops.filter((op) => op.op === grantOp && op.outcome === 'ok' && op.token !== undefined);
  const grantedTo = new Map<bigint, string>();
  for (const grant of grants) {
    const token = grant.token!;
    const earlier = grantedTo.get(token);
    if (earlier !== undefined)
      anomalies.push(`${label}: token ${token} granted twice, to ${earlier} and to ${grant.process}`);
    else grantedTo.set(token, grant.process);
  }
  const writes = ops.filter((op) => op.op === 'write');
  const byId = new Map<string, HistoryOp>();
  for (const write of writes) {
    const id = String(write.value);
    if (byId.has(id)) anomalies.push(`${label}: write id ${id} recorded twice`);
    byId.set(id, write);
    if (write.token !== undefined && grantedTo.get(write.token) !== write.process)
      anomalies.push(
        `${label}: ${write.process} wrote with token ${write.token}, which was not granted to it (granted to ${grantedTo.get(write.token) ?? 'nobody'})`,
      );
  }
  const acknowledged: FencedWrite[] = writes
    .filter((op) => op.outcome === 'ok' && op.revision !== undefined && op.token !== undefined)
    .map((op) => ({ id: String(op.value), token: op.token!, revision: op.revision!, process: op.process }));
  anomalies.push(...checkFencedOrder(acknowledged, `${label} (acknowledged writes)`));

  const truthOp = ops.find((op) => op.op === 'truth');
  if (truthOp === undefined) return anomalies;
  const truth = (truthOp.value as FencedTruth).writes.map((w) => ({
    id: w.id,
    token: BigInt(w.token),
    revision: BigInt(w.revision),
    process: w.process,
  }));
  const landed = new Map(truth.map((w) => [w.id, w]));
  const killed = killedProcesses(ops);
  for (const write of truth) {
    const recorded = byId.get(write.id);
    // A write in flight when its process was SIGKILLed was never recorded, but may land: unknown, not an anomaly.
    if (recorded === undefined) {
      if (!killed.has(write.process))
        anomalies.push(`${label}: write ${write.id} landed but was never invoked`);
    } else if (recorded.outcome === 'fail')
      anomalies.push(
        `${label}: write ${write.id} of ${write.process} (token ${write.token}) was reported failed but landed at revision ${write.revision}`,
      );
    else if (recorded.outcome === 'ok' && recorded.revision !== write.revision)
      anomalies.push(
        `${label}: write ${write.id} reported at revision ${recorded.revision} but landed at ${write.revision}`,
      );
  }
  for (const write of acknowledged)
    if (!landed.has(write.id))
      anomalies.push(`${label}: acknowledged write ${write.id} of ${write.process} is missing from etcd`);
  anomalies.push(...checkFencedOrder(truth, `${label} (writes in etcd)`));
  return [...new Set(anomalies)];
}
