import { CoordError, ErrorCodes, idempotentWrite, ops, type Session, toKeyValue } from '@coordkit/core';
import type { ClaimWatch } from './internal/claim-watch.js';
import type { Claimed } from './internal/claimer.js';
import type { QueueLayout } from './internal/layout.js';
import { entryOf } from './internal/records.js';
import { describeError, retryOrDead, type Settlement, settleOps } from './internal/settle.js';
import type { NackOptions } from './options.js';

/** What a job needs from its queue. @internal */
export interface JobContext {
  readonly session: Session;
  readonly layout: QueueLayout;
  readonly maxAttempts: number;
  readonly backoff: (attempt: number) => number;
  readonly visibilityTimeout: number;
}

/**
 * One delivery of a job to this consumer, held by a claim key under the session lease.
 *
 * Loss: `signal` aborts (reason: `CoordError` `LOCK_LOST`, or the session's `SESSION_EXPIRED`) when
 * the claim is deleted or replaced, when the session is lost, or when `visibilityTimeout` passes, at
 * which point the job is put back in line for another consumer; the handler should stop then, since
 * its `ack` can no longer land. Settling is idempotent: the first of `ack`/`nack` decides.
 */
export class Job<T> implements AsyncDisposable {
  /** The job id (given to `enqueue`, or generated). */
  readonly id: string;
  /** The payload, as enqueued (JSON round trip). */
  readonly data: T;
  /** Which delivery this is: 1 the first time, then one more per nack, timeout or crash. */
  readonly attempt: number;
  readonly priority: number;
  /** Epoch ms of the enqueue. */
  readonly enqueuedAt: number;
  /** The error recorded by the previous failed delivery, if any. */
  readonly lastError: string | undefined;
  readonly #context: JobContext;
  readonly #claimed: Claimed;
  readonly #controller = new AbortController();
  readonly #stopWatch: () => void;
  readonly #timer: NodeJS.Timeout;
  readonly #onSessionLoss: () => void;
  #settling: Promise<void> | undefined;
  #settledBy: 'ack' | 'nack' | 'give-back' | 'timeout' | undefined;

  /** @internal Jobs come from `Queue.dequeue`, `tryDequeue` and `process`. */
  constructor(context: JobContext, claimed: Claimed, data: T, enqueuedAt: number, watchClaim: ClaimWatch) {
    this.#context = context;
    this.#claimed = claimed;
    const { record } = claimed;
    this.id = record.id;
    this.data = data;
    this.attempt = record.attempt;
    this.priority = record.priority;
    this.enqueuedAt = enqueuedAt;
    this.lastError = record.lastError;
    const { session } = context;
    this.#onSessionLoss = () => this.#lose(session.signal.reason);
    session.signal.addEventListener('abort', this.#onSessionLoss, { once: true });
    this.#stopWatch = watchClaim(claimed.claimKey, claimed.claimRevision, (why) =>
      this.#lose(
        new CoordError(ErrorCodes.LOCK_LOST, `queue job ${this.id}: claim lost (${why})`, {
          key: claimed.claimKey,
        }),
      ),
    );
    // The consumer enforces its own visibility deadline on its monotonic timer; others only step in
    // after the wall-clock deadline plus their skew allowance.
    this.#timer = setTimeout(() => this.#onVisibilityTimeout(), context.visibilityTimeout);
    this.#timer.unref();
    if (session.signal.aborted) this.#onSessionLoss();
  }

  /** Aborted when this consumer no longer holds the job (claim lost, session lost, visibility timeout). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether the claim is still believed held (not settled, not lost). */
  isHeld(): boolean {
    return this.#settling === undefined && !this.#controller.signal.aborted;
  }

  /**
   * Marks the job done and deletes it (record, inflight entry and claim) in one transaction guarded
   * by the claim. Rejects `LOCK_LOST` if the claim was lost and the job is still pending (it was or
   * will be delivered again); resolves if the job is gone either way (e.g. a retried ack).
   */
  ack(): Promise<void> {
    if (this.#settling === undefined) {
      this.#settledBy = 'ack';
      this.#settling = this.#settle({ kind: 'ack' }, true);
    }
    if (this.#settledBy === 'ack') return this.#settling;
    const why =
      this.#settledBy === 'timeout'
        ? 'taken back at its visibility timeout'
        : `already settled by ${this.#settledBy}`;
    return Promise.reject(
      new CoordError(ErrorCodes.LOCK_LOST, `queue job ${this.id}: cannot ack, ${why}`, {
        key: this.#claimed.claimKey,
      }),
    );
  }

  /**
   * Gives the job back: delivered again after `delay` (default `backoff(attempt)`) ms, or moved to the
   * dead-letter set with `error` as its `lastError` once `maxAttempts` deliveries failed. If the claim
   * was already lost the job is already back in line, and this does nothing.
   */
  nack(options: NackOptions = {}): Promise<void> {
    const delay = options.delay ?? this.#context.backoff(this.attempt);
    if (!(Number.isFinite(delay) && delay >= 0)) {
      return Promise.reject(
        new CoordError(ErrorCodes.INVALID_ARGUMENT, 'invalid delay: a finite number of milliseconds >= 0'),
      );
    }
    const settlement = retryOrDead(
      this.#claimed.record,
      this.#context.maxAttempts,
      delay,
      describeError(options.error),
    );
    if (this.#settling === undefined) {
      this.#settledBy = 'nack';
      this.#settling = this.#settle(settlement, false);
    }
    return this.#settling;
  }

  /** @internal Puts an unwanted delivery back at its place without counting it (a cancelled dequeue). */
  giveBack(): Promise<void> {
    const record = { ...this.#claimed.record, attempt: this.#claimed.record.attempt - 1 };
    if (this.#settling === undefined) {
      this.#settledBy = 'give-back';
      this.#settling = this.#settle({ kind: 'ready', lastError: record.lastError }, false, record);
    }
    return this.#settling.catch(() => undefined);
  }

  /** Nacks the job unless it was settled. Never throws. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.nack({ error: new Error('released without ack') }).catch(() => undefined);
  }

  #lose(reason: unknown): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  #onVisibilityTimeout(): void {
    if (this.#settling !== undefined) return;
    const why = `visibility timeout: not acked within ${this.#context.visibilityTimeout} ms`;
    this.#lose(
      new CoordError(ErrorCodes.LOCK_LOST, `queue job ${this.id}: ${why}`, { key: this.#claimed.claimKey }),
    );
    const settlement = retryOrDead(this.#claimed.record, this.#context.maxAttempts, 0, why);
    this.#settledBy = 'timeout';
    this.#settling = this.#settle(settlement, false);
    this.#settling.catch(() => undefined);
  }

  async #settle(settlement: Settlement, isAck: boolean, record = this.#claimed.record): Promise<void> {
    this.#stopWatch();
    clearTimeout(this.#timer);
    this.#context.session.signal.removeEventListener('abort', this.#onSessionLoss);
    const { layout, session } = this.#context;
    const { claimKey, claimRevision } = this.#claimed;
    const entry = entryOf(record, undefined);
    const response = await idempotentWrite(
      `queue "${layout.root}": ${settlement.kind === 'ack' ? 'ack' : 'nack'} job ${entry.id}`,
      () =>
        session.client.kv.txn({
          compare: [ops.createRevisionIs(claimKey, claimRevision)],
          success: settleOps(layout, record, settlement),
          failure: [ops.get(layout.job(entry.id)), ops.get(layout.inflightRecord(entry.id))],
        }),
      undefined,
      claimKey,
    );
    if (response.succeeded || !isAck) return;
    const job = response.responses[0]?.response_range?.kvs[0];
    const inflight = response.responses[1]?.response_range?.kvs[0];
    // Gone: acked by this ack's first attempt (reply lost) or by a later consumer; done either way.
    if (!job) return;
    const holder = inflight
      ? ` (now held by another delivery at revision ${toKeyValue(inflight).modRevision})`
      : '';
    throw new CoordError(
      ErrorCodes.LOCK_LOST,
      `queue job ${entry.id}: claim lost before ack; the job will be delivered again${holder}`,
      { key: claimKey },
    );
  }
}
