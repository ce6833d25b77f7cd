import { type CheckResult, type History, type HistoryOp, result } from '../lib/history.js';
import { checkFencedWrites, type FencedTruth } from './fenced-writes.js';

/**
 * Election checker. Expects from candidates `elected` (ok, `token`) and guarded `write` ops as in the lock
 * checker; from observers one `observe` op per state they were given (`revision`, `token` of the leader or
 * none for "no leader"); from the harness a `truth` op with the guarded writes found in etcd.
 *
 * Checks: the fenced-write properties (at most one leader's writes land at a time, in token order); at most
 * one leader per revision across all observers; each observer's revisions strictly increase and its tokens
 * never decrease; no observer reports a leader older than one whose guarded write had already landed at or
 * before that revision; no guarded write lands after a newer leader was observed.
 */
export function checkElection(history: History): CheckResult {
  const anomalies = checkFencedWrites(history, 'elected', 'election');
  const observations = history.filter((op) => op.op === 'observe' && op.revision !== undefined);
  const leaderAt = new Map<bigint, HistoryOp>();
  const byObserver = new Map<string, HistoryOp[]>();
  for (const obs of observations) {
    const list = byObserver.get(obs.process) ?? [];
    list.push(obs);
    byObserver.set(obs.process, list);
    const other = leaderAt.get(obs.revision!);
    if (other === undefined) leaderAt.set(obs.revision!, obs);
    else if (other.token !== obs.token)
      anomalies.push(
        `election: two leaders at revision ${obs.revision}: token ${other.token ?? 'none'} seen by ${other.process}, token ${obs.token ?? 'none'} seen by ${obs.process}`,
      );
  }
  for (const [observer, list] of byObserver) {
    let last: HistoryOp | undefined;
    let highest: bigint | undefined;
    for (const obs of list) {
      if (last !== undefined && obs.revision! <= last.revision!)
        anomalies.push(
          `election: observer ${observer} went back in revisions: ${last.revision} then ${obs.revision}`,
        );
      if (obs.token !== undefined) {
        if (highest !== undefined && obs.token < highest)
          anomalies.push(
            `election: observer ${observer} saw leader token ${obs.token} at revision ${obs.revision} after token ${highest}`,
          );
        if (highest === undefined || obs.token > highest) highest = obs.token;
      }
      last = obs;
    }
  }
  // Guarded writes (acknowledged or found in etcd) prove their leader held the key at their revision.
  const truthOp = history.find((op) => op.op === 'truth');
  const landed = truthOp
    ? (truthOp.value as FencedTruth).writes.map((w) => ({
        token: BigInt(w.token),
        revision: BigInt(w.revision),
        id: w.id,
      }))
    : history
        .filter(
          (op) =>
            op.op === 'write' && op.outcome === 'ok' && op.token !== undefined && op.revision !== undefined,
        )
        .map((op) => ({ token: op.token!, revision: op.revision!, id: String(op.value) }));
  for (const write of landed) {
    for (const obs of observations) {
      if (obs.token === undefined) continue;
      if (obs.revision! <= write.revision && obs.token > write.token)
        anomalies.push(
          `election: write ${write.id} of leader token ${write.token} landed at revision ${write.revision}, after ${obs.process} saw newer leader token ${obs.token} at revision ${obs.revision}`,
        );
      if (obs.revision! >= write.revision && obs.token < write.token)
        anomalies.push(
          `election: ${obs.process} reported deposed leader token ${obs.token} at revision ${obs.revision}, after leader token ${write.token} wrote ${write.id} at revision ${write.revision}`,
        );
    }
  }
  return result([...new Set(anomalies)]);
}
