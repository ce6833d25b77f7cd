import { assertArgument, CoordError, ErrorCodes } from './errors.js';

/** Options of every call that can wait. */
export interface WaitOptions {
  /** Cancels the wait; the call rejects with `signal.reason` and removes every key it wrote. */
  readonly signal?: AbortSignal | undefined;
  /** Gives up after this many milliseconds with a `TIMEOUT` CoordError. Default: wait forever. */
  readonly timeout?: number | undefined;
}

/** A signal that aborts when the caller's signal, the timeout or any extra signal (a session's) fires. */
export interface WaitScope extends Disposable {
  readonly signal: AbortSignal;
}

/** A signal that never aborts, for a scope with nothing to wait on. */
const NEVER = new AbortController().signal;

/**
 * Combines a caller's `{ signal, timeout }` with the signals a wait also depends on (typically the
 * session's), into one signal whose `reason` is what the caller should be rejected with:
 * the caller's own `signal.reason`, a `TIMEOUT` CoordError naming `what`, or the session's loss.
 * With no timeout and a single source, the scope's signal is that source itself: a listener added
 * to it must be removed by whoever added it (every waiting helper in core does).
 */
export function waitScope(options: WaitOptions | undefined, what: string, ...also: AbortSignal[]): WaitScope {
  const timeout = options?.timeout;
  assertArgument(
    timeout === undefined || (Number.isFinite(timeout) && timeout >= 0),
    `timeout for ${what}`,
    'a finite number of milliseconds >= 0',
  );
  const sources = [options?.signal, ...also].filter((s): s is AbortSignal => s !== undefined);
  // The common call (no timeout, only the session's signal or none) needs no signal of its own:
  // an AbortController and a listener per call cost more than the uncontended lock's own work.
  if (timeout === undefined && sources.length <= 1)
    return { signal: sources[0] ?? NEVER, [Symbol.dispose]() {} };
  const controller = new AbortController();
  const abort = (reason: unknown) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const listeners: Array<[AbortSignal, () => void]> = [];
  for (const source of sources) {
    if (source.aborted) {
      abort(source.reason);
      break;
    }
    const listener = () => abort(source.reason);
    source.addEventListener('abort', listener, { once: true });
    listeners.push([source, listener]);
  }
  const timer =
    timeout === undefined || controller.signal.aborted
      ? undefined
      : setTimeout(
          () => abort(new CoordError(ErrorCodes.TIMEOUT, `${what}: timed out after ${timeout} ms`)),
          timeout,
        );
  return {
    signal: controller.signal,
    [Symbol.dispose]() {
      if (timer !== undefined) clearTimeout(timer);
      for (const [source, listener] of listeners) source.removeEventListener('abort', listener);
    },
  };
}

/** Rejects with `signal.reason` as soon as `signal` aborts, else settles like `promise`. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
