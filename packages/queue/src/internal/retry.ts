import { type CoordError, ErrorCodes, monotonicNow, toCoordError } from '@coordkit/core';

/** How long a guarded write keeps retrying through member failures, ms (as core's reads). */
const RETRY_BUDGET_MS = 10_000;

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs a transaction whose compares make a repeat harmless (the enqueue's "id absent", a claim's
 * "ready key unchanged", an ack's "claim unchanged"), retrying transient failures, including a lost
 * reply: the retry either applies it or finds, through its failure branch, that the first attempt did
 * (F12). When the budget runs out the error stays `UNKNOWN_OUTCOME` if any attempt may have applied.
 */
export async function guardedWrite<T>(
  what: string,
  request: () => Promise<T>,
  signal?: AbortSignal,
  key?: string,
): Promise<T> {
  const giveUpAt = monotonicNow() + RETRY_BUDGET_MS;
  let unknown: CoordError | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      const error = toCoordError(err, what, true, key);
      const transient = error.code === ErrorCodes.UNKNOWN_OUTCOME || error.code === ErrorCodes.UNAVAILABLE;
      if (error.code === ErrorCodes.UNKNOWN_OUTCOME) unknown = error;
      if (!transient || monotonicNow() > giveUpAt || signal?.aborted) throw unknown ?? error;
    }
    const ceiling = Math.min(1000, 25 * 2 ** attempt);
    await sleep(ceiling / 2 + Math.random() * (ceiling / 2), signal);
  }
}
