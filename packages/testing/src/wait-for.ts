/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** How long to keep trying, in milliseconds. Default 10 000. */
  readonly timeout?: number;
  /** Pause between two attempts, in milliseconds. Default 10. */
  readonly interval?: number;
  /** What was being waited for; it appears in the timeout error. */
  readonly message?: string;
  /** Stops waiting and rejects with `signal.reason` when aborted. */
  readonly signal?: AbortSignal;
}

/**
 * Calls `condition` until it returns (or resolves to) a truthy value and resolves with that value; rejects
 * with an Error naming `message` once `timeout` ms have passed.
 *
 * An attempt that throws counts as "not yet"; the last such error becomes the timeout error's `cause`, so a
 * failing assertion inside the condition explains the timeout. An attempt still pending at the deadline is
 * abandoned, so a hung condition cannot hang the test.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeout = options.timeout ?? 10_000;
  const interval = options.interval ?? 10;
  const deadline = performance.now() + timeout;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    attempts++;
    const remaining = deadline - performance.now();
    try {
      const value = await withDeadline(Promise.resolve().then(condition), remaining, options.signal);
      if (value) return value as NonNullable<T>;
    } catch (error) {
      if (error === timedOut) break;
      options.signal?.throwIfAborted();
      lastError = error;
    }
    if (performance.now() + interval > deadline) break;
    await sleep(interval, options.signal);
  }
  const what = options.message ?? 'condition to become truthy';
  const why = lastError instanceof Error ? `; last attempt threw: ${lastError.message}` : '';
  throw new Error(`waitFor: timed out after ${timeout} ms (${attempts} attempts) waiting for ${what}${why}`, {
    cause: lastError,
  });
}

const timedOut = Symbol('timedOut');

function withDeadline<T>(
  promise: Promise<T>,
  remaining: number,
  signal: AbortSignal | undefined,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(timedOut)), Math.max(0, remaining));
    const onAbort = () => finish(() => reject(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    function finish(settle: () => void) {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    }
    promise.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(error)),
    );
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(done, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
  });
}
