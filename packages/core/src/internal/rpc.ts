import { backoffDelay, monotonicNow, sleep } from './clock.js';
import { deliveryOf, isTransient, toCoordError } from './etcd-errors.js';

/** How long idempotent reads keep retrying through member failures before giving up, ms. */
const READ_RETRY_BUDGET_MS = 10_000;

/**
 * Runs an idempotent request (a read, or a write that is safe to repeat, such as a guarded
 * delete), retrying transient failures with jittered backoff; each retry may land on another member.
 */
export function idempotent<T>(
  what: string,
  request: () => Promise<T>,
  signal?: AbortSignal,
  key?: string,
): Promise<T> {
  return retryTransient(what, request, signal, key, false);
}

/**
 * Runs a write whose compares make a repeat harmless (create-if-absent, a compare on the revision it
 * read), retrying transient failures including a lost reply: the retry either applies it or finds,
 * through its failure branch, that the first attempt did (F12). If the retries run out after any
 * attempt whose outcome is unknown, the error is `UNKNOWN_OUTCOME`, even if the last attempt was
 * provably not sent: the caller must learn that the write may have landed.
 */
export function idempotentWrite<T>(
  what: string,
  request: () => Promise<T>,
  signal?: AbortSignal,
  key?: string,
): Promise<T> {
  return retryTransient(what, request, signal, key, true);
}

async function retryTransient<T>(
  what: string,
  request: () => Promise<T>,
  signal: AbortSignal | undefined,
  key: string | undefined,
  isWrite: boolean,
): Promise<T> {
  const giveUpAt = monotonicNow() + READ_RETRY_BUDGET_MS;
  let unknown: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      if (isWrite && deliveryOf(err) === 'unknown') unknown = err;
      if (!isTransient(err) || monotonicNow() > giveUpAt || signal?.aborted) {
        throw toCoordError(unknown ?? err, what, isWrite, key);
      }
    }
    await sleep(backoffDelay(attempt), signal);
  }
}

/**
 * Runs a non-idempotent write. It is retried only while failures prove it was never sent; a lost
 * reply becomes `UNKNOWN_OUTCOME` so that the caller resolves it (F12) instead of applying it twice.
 */
export async function writeOnce<T>(
  what: string,
  request: () => Promise<T>,
  signal?: AbortSignal,
  key?: string,
): Promise<T> {
  const giveUpAt = monotonicNow() + READ_RETRY_BUDGET_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      if (deliveryOf(err) !== 'unsent' || monotonicNow() > giveUpAt || signal?.aborted) {
        throw toCoordError(err, what, true, key);
      }
    }
    await sleep(backoffDelay(attempt), signal);
  }
}
