import { CoordError, ErrorCodes, sleep } from '@coordkit/core';

/** Ceiling of the first wait after a refused attempt, and the largest ceiling, ms (measured: 16 processes on one key). */
const BASE_DELAY_MS = 1;
const MAX_DELAY_MS = 64;
const MAX_LEVEL = Math.ceil(Math.log2(MAX_DELAY_MS / BASE_DELAY_MS));

/**
 * How contended one key is, remembered across the updates of one writer. The wait before an attempt
 * is "full jitter" (a random time up to base * 2^level). The level rises with every refused attempt
 * and falls by one with every success, so a writer that just won a contended round also waits before
 * its next update instead of winning again at once while the others sleep (the capture effect that
 * otherwise starves some writers on a hot key). Uncontended, the level stays 0 and nothing waits.
 */
export class ContentionBackoff {
  #level = 0;

  /** The wait before the next attempt, ms. */
  nextDelay(): number {
    if (this.#level === 0) return 0;
    return Math.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.#level);
  }

  refused(): void {
    this.#level = Math.min(MAX_LEVEL, this.#level + 1);
  }

  succeeded(): void {
    this.#level = Math.max(0, this.#level - 1);
  }
}

/**
 * Counts the attempts of one optimistic update and spaces them out, failing with CONFLICT after
 * `maxRetries` retries or with `signal.reason` (the caller's abort, or a TIMEOUT) once it fires.
 */
export class RetryBudget {
  #retries = 0;

  constructor(
    private readonly what: string,
    private readonly maxRetries: number,
    private readonly signal: AbortSignal,
    private readonly key: string,
    private readonly contention: ContentionBackoff = new ContentionBackoff(),
  ) {}

  /** Attempts made so far, the first included. */
  get attempts(): number {
    return this.#retries + 1;
  }

  /** Waits before an attempt as contention requires (not at all when uncontended). */
  async beforeAttempt(): Promise<void> {
    this.signal.throwIfAborted();
    const delay = this.contention.nextDelay();
    if (delay > 0) await sleep(delay, this.signal);
  }

  /** Records success, so the key's contention level falls. */
  succeeded(): void {
    this.contention.succeeded();
  }

  /** Records a refused attempt; throws CONFLICT when `maxRetries` retries were already spent. */
  refused(lastSeen: unknown): void {
    this.contention.refused();
    this.signal.throwIfAborted();
    if (this.#retries >= this.maxRetries) {
      throw new CoordError(
        ErrorCodes.CONFLICT,
        `${this.what}: still contended after ${this.#retries} retries (maxRetries)`,
        { key: this.key, current: lastSeen },
      );
    }
    this.#retries++;
  }
}
