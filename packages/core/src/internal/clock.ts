import { performance } from 'node:perf_hooks';

/**
 * Monotonic milliseconds. Every deadline in coordkit is measured on this clock, never on `Date`,
 * so a wall-clock jump (NTP step, VM resume, a faked Date) cannot stretch or shrink a lease (F19).
 */
export function monotonicNow(): number {
  return performance.now();
}

/** Resolves after `ms` on the monotonic timer queue, or rejects with `signal.reason` when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Exponential backoff with full jitter: the n-th retry waits a random time up to base * 2^n, capped. */
export function backoffDelay(attempt: number, baseMs = 25, capMs = 1000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
