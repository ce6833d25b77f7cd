import { backoffDelay, monotonicNow, sleep } from './clock.js';
import { deliveryOf, isTransient, toCoordError } from './etcd-errors.js';

/** How long idempotent reads keep retrying through member failures before giving up, ms. */
const READ_RETRY_BUDGET_MS = 10_000;

/**
 * Runs an idempotent request (a read, or a write that is safe to repeat, such as a guarded
 * delete), retrying transient failures with jittered backoff; each retry may land on another member.
 * With `kind: 'write'`, a failure after the retries is reported `UNKNOWN_OUTCOME` when the last
 * attempt may have applied (the caller learns the write might have landed), not `UNAVAILABLE`.
 */
export async function idempotent<T>(
  what: string,
  request: () => Promise<T>,
  signal?: AbortSignal,
  key?: string,
  kind: 'read' | 'write' = 'read',
): Promise<T> {
  const giveUpAt = monotonicNow() + READ_RETRY_BUDGET_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      if (!isTransient(err) || monotonicNow() > giveUpAt || signal?.aborted) {
        throw toCoordError(err, what, kind === 'write', key);
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
