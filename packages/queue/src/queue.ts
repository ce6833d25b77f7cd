import {
  assertArgument,
  CoordError,
  ErrorCodes,
  idempotentWrite,
  ops,
  raceSignal,
  type Session,
  validateName,
  waitScope,
} from '@coordkit/core';
import { listDeadLetters, readStats, redriveDead } from './internal/admin.js';
import { afterWake } from './internal/after-wake.js';
import { Background } from './internal/background.js';
import { watchClaimAlone } from './internal/claim-watch.js';
import { type Claimed, Claimer } from './internal/claimer.js';
import { enqueueJobs } from './internal/enqueue-txn.js';
import { QueueLayout, validateJobId } from './internal/layout.js';
import { MarkerLease } from './internal/marker-lease.js';
import { settleOps } from './internal/settle.js';
import { runWorkers } from './internal/worker-loop.js';
import { Job, type JobContext } from './job.js';
import type {
  BatchItem,
  DeadLetter,
  DequeueOptions,
  Enqueued,
  EnqueueOptions,
  ProcessOptions,
  QueueOptions,
  QueueStats,
} from './options.js';

const defaultBackoff = (attempt: number) => Math.min(1000 * 2 ** (attempt - 1), 60_000);

/**
 * A durable, at-least-once job queue in etcd, consumed under a {@link Session}: job records carry
 * no lease and survive every crash; a delivery is a claim under the session lease.
 *
 * Guarantees: a job is never held by two live consumers at once (claims are guarded transactions);
 * a job whose consumer dies is delivered again once that consumer's lease expires (at most the
 * session TTL after the crash), and one whose consumer is stuck after `visibilityTimeout`; after
 * `maxAttempts` failed deliveries it moves to the dead-letter set. Ready jobs of one priority are
 * handed out in enqueue order (exactly, for one producer and a consumer without competition).
 * Closing the handle stops its watches and rejects waiting dequeues with `CLOSED`; jobs it holds stay
 * claimed until acked, nacked, timed out, or its session ends.
 */
export class Queue<T = unknown> implements AsyncDisposable {
  readonly name: string;
  readonly session: Session;
  readonly #layout: QueueLayout;
  readonly #context: JobContext;
  readonly #clockSkewAllowance: number;
  readonly #claimer: Claimer;
  readonly #closed = new AbortController();
  readonly #markers: MarkerLease;
  #background: Promise<Background> | undefined;
  /** The started background, while it runs: its inflight mirror watches this handle's claims. */
  #running: Background | undefined;

  constructor(session: Session, name: string, options: QueueOptions = {}) {
    this.name = validateName(name, 'queue');
    this.session = session;
    const visibilityTimeout = options.visibilityTimeout ?? 30_000;
    const maxAttempts = options.maxAttempts ?? 5;
    const backoff = options.backoff ?? defaultBackoff;
    this.#clockSkewAllowance = options.clockSkewAllowance ?? 5_000;
    assertArgument(
      Number.isFinite(visibilityTimeout) && visibilityTimeout > 0 && visibilityTimeout < 2 ** 31,
      'visibilityTimeout',
      'a positive number of milliseconds below 2^31',
    );
    assertArgument(Number.isInteger(maxAttempts) && maxAttempts >= 1, 'maxAttempts', 'an integer >= 1');
    assertArgument(typeof backoff === 'function', 'backoff', 'a function (attempt) => milliseconds');
    assertArgument(
      Number.isFinite(this.#clockSkewAllowance) && this.#clockSkewAllowance >= 0,
      'clockSkewAllowance',
      'a finite number of milliseconds >= 0',
    );
    this.#layout = new QueueLayout(this.name);
    this.#markers = new MarkerLease(session);
    // Granted up front, so the first enqueue costs one request.
    this.#markers.current().catch(() => undefined);
    this.#context = { session, layout: this.#layout, maxAttempts, backoff, visibilityTimeout };
    this.#claimer = new Claimer(session, this.#layout, visibilityTimeout);
  }

  /**
   * Adds a job in one transaction (one request); a job whose `id` is still queued (ready, delayed,
   * in flight or dead) is not added again and its existing revision is returned. Safe to retry with
   * the same `id` after an `UNKNOWN_OUTCOME`. `data` must survive a JSON round trip.
   */
  async enqueue(data: T, options: EnqueueOptions = {}): Promise<Enqueued> {
    const [result] = await enqueueJobs(
      this.session,
      this.#layout,
      [{ ...options, data }],
      () => 'options',
      this.#markers,
    );
    return result!;
  }

  /** Adds up to 42 jobs in one transaction, in array order; duplicates by `id` are skipped as in {@link enqueue}. */
  enqueueBatch(items: readonly BatchItem<T>[]): Promise<Enqueued[]> {
    assertArgument(Array.isArray(items), 'items', 'an array of { data, priority?, delay?, id? }');
    return enqueueJobs(this.session, this.#layout, items, (i) => `items[${i}]`, this.#markers);
  }

  /**
   * Waits for a job and claims it. Waiting costs no request (a watch wakes it). Rejects with the
   * signal's reason, `TIMEOUT`, the session's loss, or `CLOSED`; a claim that lands after the wait was
   * cancelled is given back at its place, uncounted.
   */
  async dequeue(options: DequeueOptions = {}): Promise<Job<T>> {
    const what = `queue "${this.name}": dequeue`;
    using scope = waitScope(options, what, this.session.signal, this.#closed.signal);
    for (;;) {
      const background = await raceSignal(this.#startBackground(), scope.signal);
      const result = await this.#claimer.tryClaim(scope.signal);
      if (result.claimed) {
        const job = await this.#toJob(result.claimed);
        if (!job) continue;
        if (scope.signal.aborted) {
          await job.giveBack();
          throw scope.signal.reason;
        }
        return job;
      }
      await background.ready.waitForPut(result.revision, scope.signal);
      if (scope.signal.aborted) {
        // Woken for a job it will not take: hand the wake-up to another waiting call.
        background.ready.passOn();
        throw scope.signal.reason;
      }
      await afterWake(background.ready, this.#claimer, scope.signal);
    }
  }

  /** Claims a ready job if there is one, never waiting (one read and one transaction). */
  async tryDequeue(): Promise<Job<T> | undefined> {
    this.#assertOpen();
    for (;;) {
      this.#claimer.invalidate();
      const result = await this.#claimer.tryClaim();
      if (!result.claimed) return undefined;
      const job = await this.#toJob(result.claimed);
      if (job) return job;
    }
  }

  /**
   * Runs `handler` on jobs, `concurrency` at a time, until `signal` aborts; then stops taking jobs,
   * waits for running handlers, and resolves. A handler that returns acks its job (unless it settled
   * it itself); one that throws nacks it with the error. Rejects if dequeuing fails for good (session lost).
   */
  process(handler: (job: Job<T>) => Promise<unknown> | unknown, options: ProcessOptions = {}): Promise<void> {
    const concurrency = options.concurrency ?? 1;
    assertArgument(typeof handler === 'function', 'handler', 'a function (job) => Promise');
    assertArgument(Number.isInteger(concurrency) && concurrency >= 1, 'concurrency', 'an integer >= 1');
    return runWorkers(this, handler, concurrency, options);
  }

  /** Counts ready, delayed, inflight and dead jobs at one revision (one read). */
  stats(): Promise<QueueStats> {
    return readStats(this.session, this.#layout);
  }

  /** Lists the dead-letter set with payloads and last errors. */
  deadLetters(): Promise<DeadLetter<T>[]> {
    return listDeadLetters<T>(this.session, this.#layout);
  }

  /** Moves one dead job (by id) or all of them back to ready, attempts reset. Returns how many moved. */
  redrive(id?: string): Promise<number> {
    if (id !== undefined) validateJobId(id, 'id');
    return redriveDead(this.session, this.#layout, id);
  }

  /** Stops the handle's watches and rejects waiting dequeues with `CLOSED`. Idempotent; never throws. */
  async close(): Promise<void> {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort(new CoordError(ErrorCodes.CLOSED, `queue "${this.name}": closed`));
    const background = this.#background;
    this.#background = undefined;
    this.#running = undefined;
    await background?.then((b) => b.close()).catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal The signal that ends the handle (closed), for the worker loop. */
  get closedSignal(): AbortSignal {
    return this.#closed.signal;
  }

  #assertOpen(): void {
    if (this.#closed.signal.aborted) throw this.#closed.signal.reason;
  }

  #startBackground(): Promise<Background> {
    this.#assertOpen();
    if (this.#background) return this.#background;
    const policy = { maxAttempts: this.#context.maxAttempts, clockSkewAllowance: this.#clockSkewAllowance };
    const started = Background.start(this.session, this.#layout, policy, () => {
      // A watch failed for good: drop everything and let the next dequeue start afresh. Also called
      // when the start itself failed (e.g. PERMISSION_DENIED on a watch): that rejection is reported
      // to the caller of dequeue, so this derived promise must not become an unhandled one.
      if (this.#background === started) this.#background = undefined;
      void started.then(
        (b) => {
          if (this.#running === b) this.#running = undefined;
          b.close();
        },
        () => undefined,
      );
    });
    this.#background = started;
    started.then(
      (b) => {
        if (this.#background === started) this.#running = b;
      },
      () => {
        if (this.#background === started) this.#background = undefined;
      },
    );
    return started;
  }

  async #toJob(claimed: Claimed): Promise<Job<T> | undefined> {
    if (claimed.job) {
      // Without a running background (tryDequeue before any dequeue) the claim gets a watch of its own.
      const watchClaim = this.#running?.claimWatch ?? watchClaimAlone(this.session);
      return new Job<T>(this.#context, claimed, claimed.job.data as T, claimed.job.enqueuedAt, watchClaim);
    }
    // The record was deleted behind the queue's back: nothing to deliver, just clear the claim.
    await idempotentWrite(`queue "${this.name}": drop orphan ${claimed.record.id}`, () =>
      this.session.client.kv.txn({
        compare: [ops.createRevisionIs(claimed.claimKey, claimed.claimRevision)],
        success: settleOps(this.#layout, claimed.record, { kind: 'ack' }),
        failure: [],
      }),
    );
    return undefined;
  }
}
