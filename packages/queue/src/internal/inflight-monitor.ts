import { idempotentWrite, type KeyValue, ops, type Session } from '@coordkit/core';
import { type ClaimWatch, watchClaimAlone } from './claim-watch.js';
import type { QueueLayout } from './layout.js';
import { PrefixMirror } from './prefix-mirror.js';
import { decode, type InflightRecord } from './records.js';
import { retryOrDead, settleOps } from './settle.js';

const MAX_TIMER_MS = 2 ** 31 - 1;
/** Spreads the consumers that all see the same orphan at once. */
const JITTER_MS = 50;
/** How soon an overdue delivery whose take-back did not land (a failed request) is tried again. */
const RETRY_MS = 1_000;

/** What the monitor needs from the queue's options. */
export interface MonitorPolicy {
  readonly maxAttempts: number;
  readonly clockSkewAllowance: number;
}

/** A claim of this handle watched through the mirror. */
interface TrackedClaim {
  readonly key: string;
  readonly createRevision: bigint;
  readonly onLost: (why: string) => void;
  /** Set once the monitor stopped and the claim got a watch of its own. */
  stopAlone?: () => void;
}

/**
 * Gives lost deliveries back to the queue. It mirrors `inflight/` by watch: an inflight record
 * whose claim key is absent belongs to a consumer whose session lease expired (a crash), because
 * ack and nack always delete both in one transaction; a claim still present past its visibility
 * deadline plus the skew allowance belongs to a stuck consumer. Either is re-queued (or dead-lettered
 * after `maxAttempts`) in a transaction guarded by the record's mod revision and the claim's create
 * revision, so a consumer that acks in the meantime wins and nothing is delivered twice by mistake.
 *
 * The same mirror tells this handle's own deliveries when their claim goes ({@link claimWatch}):
 * one watch for all of them instead of one per delivery (each of which etcd would have to catch up
 * from the claim's revision). A change costs work in proportion to the keys it touched: a record's
 * deadline is decoded once, and the timer is moved only when a record falls due before it.
 */
export class InflightMonitor {
  readonly #mirror: PrefixMirror;
  readonly #scheduled = new Set<string>();
  /** Visibility deadline (epoch ms) of each inflight record in the mirror, by job id. */
  readonly #deadlines = new Map<string, number>();
  readonly #tracked = new Set<TrackedClaim>();
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (epoch ms); +Infinity when none is armed. */
  #timerAt = Number.POSITIVE_INFINITY;
  #closed = false;

  constructor(
    private readonly session: Session,
    private readonly layout: QueueLayout,
    private readonly policy: MonitorPolicy,
    onFailure: (err: unknown) => void,
  ) {
    this.#mirror = new PrefixMirror(
      session,
      layout.inflight,
      (keys, resync) => this.#onChange(keys, resync),
      onFailure,
    );
  }

  start(): Promise<void> {
    return this.#mirror.start();
  }

  /**
   * Watches a claim this handle made, through the mirror. When the monitor stops (closed, or its
   * watch failed), each claim still tracked gets a watch of its own from the last revision the
   * mirror vouched for, so no loss goes unreported.
   */
  readonly claimWatch: ClaimWatch = (key, createRevision, onLost) => {
    if (this.#closed)
      return watchClaimAlone(this.session, this.#mirror.revision)(key, createRevision, onLost);
    let lost = false;
    const claim: TrackedClaim = {
      key,
      createRevision,
      onLost: (why) => {
        if (lost) return;
        lost = true;
        this.#tracked.delete(claim);
        onLost(why);
      },
    };
    this.#tracked.add(claim);
    this.#checkClaim(claim);
    return () => {
      lost = true;
      this.#tracked.delete(claim);
      claim.stopAlone?.();
    };
  };

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#mirror.close();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const watchAlone = watchClaimAlone(this.session, this.#mirror.revision);
    for (const claim of [...this.#tracked]) {
      this.#tracked.delete(claim);
      claim.stopAlone = watchAlone(claim.key, claim.createRevision, claim.onLost);
    }
  }

  #onChange(keys: readonly string[], resync: boolean): void {
    if (resync) this.#deadlines.clear();
    for (const key of keys) {
      const parsed = this.layout.parseInflight(key);
      if (!parsed) continue;
      if (!parsed.isClaim) this.#noteRecord(parsed.id, this.#mirror.entries.get(key));
      if (this.#isOrphan(parsed.id)) this.#takeBackSoon(parsed.id);
    }
    // Few claims are held at once, so checking all of them is cheaper than indexing them by key.
    for (const claim of [...this.#tracked]) this.#checkClaim(claim);
  }

  /** A tracked claim is lost once the mirror, caught up to its revision, lacks it or holds another. */
  #checkClaim(claim: TrackedClaim): void {
    if (this.#mirror.revision < claim.createRevision) return;
    const kv = this.#mirror.entries.get(claim.key);
    const at = `revision ${this.#mirror.revision}`;
    if (!kv) claim.onLost(`key ${claim.key} was deleted (seen at ${at})`);
    else if (kv.createRevision !== claim.createRevision || kv.lease !== this.session.leaseId)
      claim.onLost(`key ${claim.key} was written again (seen at ${at})`);
  }

  #noteRecord(id: string, kv: KeyValue | undefined): void {
    if (!kv) {
      // A deadline timer left armed for it fires early and finds nothing due: harmless.
      this.#deadlines.delete(id);
      return;
    }
    let deadline: number;
    try {
      deadline = decode<InflightRecord>(kv.value, kv.key).deadline;
    } catch {
      // Not written by the queue: no deadline to enforce (taking it back would need its record).
      this.#deadlines.delete(id);
      return;
    }
    this.#deadlines.set(id, deadline);
    this.#armFor(deadline);
  }

  #isOrphan(id: string): boolean {
    return (
      this.#mirror.entries.has(this.layout.inflightRecord(id)) &&
      !this.#mirror.entries.has(this.layout.claim(id))
    );
  }

  #isOverdue(deadline: number | undefined): boolean {
    return deadline !== undefined && deadline + this.policy.clockSkewAllowance <= Date.now();
  }

  /** Makes sure the timer fires by the time the record with this deadline is overdue. */
  #armFor(deadline: number): void {
    this.#armAt(deadline + this.policy.clockSkewAllowance);
  }

  #armAt(at: number): void {
    if (this.#closed || at >= this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    const wait = Math.max(0, at - Date.now()) + Math.random() * JITTER_MS;
    this.#timer = setTimeout(() => this.#onDeadline(), Math.min(MAX_TIMER_MS, wait));
    this.#timer.unref();
  }

  #onDeadline(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    let next = Number.POSITIVE_INFINITY;
    for (const [id, deadline] of this.#deadlines) {
      if (this.#isOverdue(deadline)) {
        this.#takeBackSoon(id);
        // Once taken back its record leaves the mirror; if it is still here then, try again.
        next = Math.min(next, Date.now() + RETRY_MS);
      } else {
        next = Math.min(next, deadline + this.policy.clockSkewAllowance);
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.#armAt(next);
  }

  #takeBackSoon(id: string): void {
    if (this.#scheduled.has(id) || this.#closed) return;
    this.#scheduled.add(id);
    setTimeout(() => {
      void this.#takeBack(id)
        .catch(() => undefined)
        .finally(() => this.#scheduled.delete(id));
    }, Math.random() * JITTER_MS).unref();
  }

  async #takeBack(id: string): Promise<void> {
    const recordKv = this.#mirror.entries.get(this.layout.inflightRecord(id));
    const claimKv = this.#mirror.entries.get(this.layout.claim(id));
    if (this.#closed || !recordKv || (claimKv && !this.#isOverdue(this.#deadlines.get(id)))) return;
    const record = decode<InflightRecord>(recordKv.value, recordKv.key);
    const why = claimKv
      ? `visibility timeout: consumer ${record.consumer} held it past its deadline`
      : `consumer ${record.consumer} lost its session while holding it`;
    await idempotentWrite(
      `queue "${this.layout.root}": take back job ${id}`,
      () =>
        this.session.client.kv.txn({
          compare: [
            ops.modRevisionIs(recordKv.key, recordKv.modRevision),
            ops.createRevisionIs(this.layout.claim(id), claimKv?.createRevision ?? 0n),
          ],
          success: settleOps(this.layout, record, retryOrDead(record, this.policy.maxAttempts, 0, why)),
          failure: [],
        }),
      undefined,
      recordKv.key,
    );
  }
}
