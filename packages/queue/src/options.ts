import type { WaitOptions } from '@coordkit/core';
import type { Job } from './job.js';

/** Options of `new Queue(session, name, options)`. */
export interface QueueOptions {
  /**
   * How long a consumer may hold a job before it is taken back and delivered again, in ms.
   * The consumer itself aborts `job.signal` and re-queues the job at this deadline; other consumers
   * re-queue it once the deadline plus `clockSkewAllowance` has passed on their own clocks.
   * Default 30 000.
   */
  readonly visibilityTimeout?: number;
  /** Deliveries after which a job that is nacked (or times out) goes to the dead-letter set. Default 5. */
  readonly maxAttempts?: number;
  /**
   * Delay in ms before a nacked job is delivered again, given the attempt that failed (1 for the
   * first delivery). Default `min(1000 * 2 ** (attempt - 1), 60_000)`.
   */
  readonly backoff?: (attempt: number) => number;
  /**
   * Margin in ms added to another consumer's visibility deadline before this consumer takes the job
   * back, to absorb wall-clock differences between hosts. Default 5 000.
   */
  readonly clockSkewAllowance?: number;
}

/** Options of {@link Queue.enqueue}. */
export interface EnqueueOptions {
  /** From -1000 to 1000; higher is delivered first. Default 0. */
  readonly priority?: number;
  /** Ms before the job becomes ready. Default 0 (ready at once). */
  readonly delay?: number;
  /**
   * The job id (1-128 of `[A-Za-z0-9._:-]`): a job whose id is still in the queue (ready, delayed,
   * in flight or dead) is not queued again. Default: a fresh nanoid.
   */
  readonly id?: string;
}

/** One job of {@link Queue.enqueueBatch}. */
export interface BatchItem<T> extends EnqueueOptions {
  readonly data: T;
}

/** What {@link Queue.enqueue} returns. */
export interface Enqueued {
  readonly id: string;
  /** The revision at which the job record was created (the existing one's, for a duplicate id). */
  readonly revision: bigint;
  /** True when a job with this id was already queued, so nothing was written. */
  readonly duplicate: boolean;
}

/** Options of {@link Queue.dequeue}: `signal` cancels the wait, `timeout` bounds it (ms). */
export type DequeueOptions = WaitOptions;

/** Options of {@link Queue.process}. */
export interface ProcessOptions {
  /** Handlers run at once. Default 1. */
  readonly concurrency?: number;
  /** Stops the loop: no new job is taken, running handlers finish, then `process` resolves. */
  readonly signal?: AbortSignal;
  /** Told about errors the loop survives (an ack that found its claim lost...). Default: ignored. */
  readonly onError?: (error: unknown, job: Job<unknown> | undefined) => void;
}

/** Options of {@link Job.nack}. */
export interface NackOptions {
  /** Ms before the job is delivered again. Default: the queue's `backoff(attempt)`. */
  readonly delay?: number;
  /** Recorded as the job's `lastError` (kept in the dead-letter set). */
  readonly error?: unknown;
}

/** Counts of {@link Queue.stats}, read at one revision. */
export interface QueueStats {
  readonly ready: number;
  readonly delayed: number;
  readonly inflight: number;
  readonly dead: number;
  readonly revision: bigint;
}

/** One entry of {@link Queue.deadLetters}. */
export interface DeadLetter<T> {
  readonly id: string;
  readonly data: T | undefined;
  readonly attempt: number;
  readonly priority: number;
  readonly lastError: string;
  /** Epoch ms at which the job was dead-lettered. */
  readonly diedAt: number;
}
