import { idempotentWrite, type KeyValue, ops, type Session } from '@coordkit/core';
import type { QueueLayout } from './layout.js';
import { PrefixMirror } from './prefix-mirror.js';
import { decode, type InflightRecord } from './records.js';
import { retryOrDead, settleOps } from './settle.js';

const MAX_TIMER_MS = 2 ** 31 - 1;
/** Spreads the consumers that all see the same orphan at once. */
const JITTER_MS = 50;

/** What the monitor needs from the queue's options. */
export interface MonitorPolicy {
  readonly maxAttempts: number;
  readonly clockSkewAllowance: number;
}

/**
 * Gives lost deliveries back to the queue. It mirrors `inflight/` by watch: an inflight record
 * whose claim key is absent belongs to a consumer whose session lease expired (a crash), because
 * ack and nack always delete both in one transaction; a claim still present past its visibility
 * deadline plus the skew allowance belongs to a stuck consumer. Either is re-queued (or dead-lettered
 * after `maxAttempts`) in a transaction guarded by the record's mod revision and the claim's create
 * revision, so a consumer that acks in the meantime wins and nothing is delivered twice by mistake.
 */
export class InflightMonitor {
  readonly #mirror: PrefixMirror;
  readonly #scheduled = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly session: Session,
    private readonly layout: QueueLayout,
    private readonly policy: MonitorPolicy,
    onFailure: (err: unknown) => void,
  ) {
    this.#mirror = new PrefixMirror(session, layout.inflight, (keys) => this.#onChange(keys), onFailure);
  }

  start(): Promise<void> {
    return this.#mirror.start();
  }

  close(): void {
    this.#closed = true;
    this.#mirror.close();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  #onChange(keys: readonly string[]): void {
    for (const key of keys) {
      const parsed = this.layout.parseInflight(key);
      if (parsed && this.#isOrphan(parsed.id)) this.#takeBackSoon(parsed.id);
    }
    this.#armDeadlineTimer();
  }

  #isOrphan(id: string): boolean {
    return (
      this.#mirror.entries.has(this.layout.inflightRecord(id)) &&
      !this.#mirror.entries.has(this.layout.claim(id))
    );
  }

  #isOverdue(record: KeyValue): boolean {
    const { deadline } = decode<InflightRecord>(record.value, record.key);
    return deadline + this.policy.clockSkewAllowance <= Date.now();
  }

  #armDeadlineTimer(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [key, kv] of this.#mirror.entries) {
      if (this.layout.parseInflight(key)?.isClaim !== false) continue;
      earliest = Math.min(earliest, decode<InflightRecord>(kv.value, key).deadline);
    }
    if (earliest === Number.POSITIVE_INFINITY) return;
    const wait = Math.max(0, earliest + this.policy.clockSkewAllowance - Date.now());
    this.#timer = setTimeout(
      () => this.#onDeadline(),
      Math.min(MAX_TIMER_MS, wait + Math.random() * JITTER_MS),
    );
    this.#timer.unref();
  }

  #onDeadline(): void {
    this.#timer = undefined;
    for (const [key, kv] of this.#mirror.entries) {
      const parsed = this.layout.parseInflight(key);
      if (parsed && !parsed.isClaim && this.#isOverdue(kv)) this.#takeBackSoon(parsed.id);
    }
    this.#armDeadlineTimer();
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
    if (this.#closed || !recordKv || (claimKv && !this.#isOverdue(recordKv))) return;
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
