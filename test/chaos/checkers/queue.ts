import { type CheckResult, type History, type HistoryOp, result } from '../lib/history.js';
import { faultWindows, hadFault, killedProcesses } from './fault-windows.js';

interface Delivery {
  readonly id: string;
  readonly attempt: number;
  readonly process: string;
  /** When `dequeue` was invoked and when it returned the job. */
  readonly invoked: number;
  readonly start: number;
  /** When the consumer stopped using the job: ack invoked or loss noticed; Infinity if it never did. */
  readonly release: number;
  readonly ack: HistoryOp | undefined;
}

/**
 * Queue checker. Expects `enqueue` ops (value: job id); from consumers `dequeue` (ok, value `{ id, attempt }`,
 * `time` invoked, `end` returned), then either `lost` (value `{ id }`: the job's signal aborted or the
 * session was dead before the ack) or `ack` (value `{ id }`); nemesis `fault-start`/`fault-end` ops naming
 * the client process they hit; and a `truth` op `{ remaining: string[] }`: the job ids still in etcd once
 * every fault was healed and the consumers drained the queue.
 *
 * Checks: no acknowledged enqueue is lost (acked, or still in the queue); nothing delivered that was never
 * enqueued; no acked job left in the queue or delivered again after its ack completed; one delivery per
 * attempt number; never two live consumers at once (two deliveries of one job whose hold intervals
 * overlap, both acked ok, by processes no client fault touched during the hold). Together these mean a job
 * is delivered more than once only after an earlier delivery ended without an ack (crash, pause, loss).
 */
export function checkQueue(history: History): CheckResult {
  const anomalies: string[] = [];
  const enqueued = new Map<string, HistoryOp>();
  for (const op of history.filter((o) => o.op === 'enqueue')) {
    const id = String(op.value);
    const earlier = enqueued.get(id);
    if (earlier === undefined || earlier.outcome !== 'ok') enqueued.set(id, op);
  }
  const deliveries = deliveriesOf(history);
  const windows = faultWindows(history);
  const truth = history.find((op) => op.op === 'truth');
  const remaining = new Set(truth ? (truth.value as { remaining: string[] }).remaining : []);

  // Job ids are `j-<producer incarnation><seq>`: an enqueue in flight when that producer incarnation was
  // SIGKILLed was never recorded, yet may have landed; its delivery is not an anomaly.
  const killedIncarnations = new Set(
    [...killedProcesses(history)].filter((p) => p.startsWith('producer')).map((p) => p.replace(/^.*#/, '')),
  );
  const fromKilledProducer = (id: string) =>
    [...killedIncarnations].some((n) => new RegExp(`^j-${n}\\d{5}$`).test(id));
  const byJob = new Map<string, Delivery[]>();
  for (const delivery of deliveries) {
    const list = byJob.get(delivery.id) ?? [];
    list.push(delivery);
    byJob.set(delivery.id, list);
    const enqueue = enqueued.get(delivery.id);
    if ((enqueue === undefined && !fromKilledProducer(delivery.id)) || enqueue?.outcome === 'fail')
      anomalies.push(
        `queue: job ${delivery.id} delivered to ${delivery.process} but never successfully enqueued`,
      );
  }
  // A consumer SIGKILLed while holding a job may have sent its ack, which then landed but was never
  // recorded (a line is written when the ack returns): such a job may be gone without a recorded ack.
  const kills = windows.filter((w) => w.kind === 'kill-process');
  const cutByKill = (d: Delivery) =>
    d.release === Number.POSITIVE_INFINITY && kills.some((w) => w.target === d.process && w.start >= d.start);
  if (truth !== undefined) {
    for (const [id, op] of enqueued) {
      if (op.outcome !== 'ok') continue;
      const deliveries = byJob.get(id) ?? [];
      const acked = deliveries.some((d) => d.ack !== undefined && d.ack.outcome !== 'fail');
      if (!acked && !remaining.has(id) && !deliveries.some(cutByKill))
        anomalies.push(`queue: acknowledged job ${id} lost: never acked and not in the queue`);
    }
  }
  for (const [id, list] of byJob) {
    list.sort((a, b) => a.attempt - b.attempt || a.start - b.start);
    const ackedOk = list.filter((d) => d.ack?.outcome === 'ok');
    if (ackedOk.length > 0 && remaining.has(id))
      anomalies.push(`queue: job ${id} was acked by ${ackedOk[0]!.process} but is still in the queue`);
    for (let i = 0; i < list.length; i++) {
      const a = list[i]!;
      for (let j = i + 1; j < list.length; j++) {
        const b = list[j]!;
        if (a.attempt === b.attempt)
          anomalies.push(
            `queue: job ${id} attempt ${a.attempt} delivered twice, to ${a.process} and ${b.process}`,
          );
        const overlap = a.start < b.release && b.start < a.release;
        if (
          overlap &&
          a.process !== b.process &&
          a.ack?.outcome === 'ok' &&
          b.ack?.outcome === 'ok' &&
          !hadFault(windows, a.process, a.start, a.release) &&
          !hadFault(windows, b.process, b.start, b.release)
        )
          anomalies.push(
            `queue: job ${id} held by two live consumers at once: ${a.process} (attempt ${a.attempt}) and ${b.process} (attempt ${b.attempt}), both acked`,
          );
      }
      for (const acked of ackedOk)
        if (acked !== a && acked.ack!.end !== undefined && a.invoked > acked.ack!.end)
          anomalies.push(
            `queue: job ${id} delivered again to ${a.process} (attempt ${a.attempt}) after ${acked.process} acked it`,
          );
    }
  }
  return result([...new Set(anomalies)]);
}

/** Pairs each `dequeue` with what its process did next with that job (`ack` or `lost`). */
function deliveriesOf(history: History): Delivery[] {
  const open = new Map<string, { op: HistoryOp; id: string; attempt: number }>();
  const deliveries: Delivery[] = [];
  const close = (key: string, release: number, ack: HistoryOp | undefined) => {
    const pending = open.get(key);
    if (pending === undefined) return;
    open.delete(key);
    deliveries.push({
      id: pending.id,
      attempt: pending.attempt,
      process: pending.op.process,
      invoked: pending.op.time,
      start: pending.op.end ?? pending.op.time,
      release,
      ack,
    });
  };
  for (const op of history) {
    if (op.op === 'dequeue' && op.outcome === 'ok') {
      const { id, attempt } = op.value as { id: string; attempt: number };
      const key = `${op.process}\u0000${id}`;
      close(key, Number.POSITIVE_INFINITY, undefined);
      open.set(key, { op, id, attempt });
    } else if (op.op === 'ack' || op.op === 'lost') {
      const { id } = op.value as { id: string };
      close(`${op.process}\u0000${id}`, op.time, op.op === 'ack' ? op : undefined);
    }
  }
  for (const key of [...open.keys()]) close(key, Number.POSITIVE_INFINITY, undefined);
  return deliveries;
}
