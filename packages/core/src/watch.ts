import type { Etcd3 } from 'etcd3';
import { assertArgument, CoordError, ErrorCodes } from './errors.js';
import type { HubWatcher } from './internal/hub-watcher.js';
import { hubOf } from './internal/watch-hub.js';
import { prefixRangeEnd } from './keys.js';
import { readRange } from './read.js';
import type { WatchBatch } from './watch-event.js';

/** What to watch: one key, or every key under a prefix. */
export type WatchTarget = { readonly key: string } | { readonly prefix: string };

/** Options of {@link watch}. */
export interface WatchOptions {
  /** First revision to deliver. Default: changes after the moment etcd creates the watch. */
  readonly fromRevision?: bigint;
  /** Stops the watch; the loop then ends without error. */
  readonly signal?: AbortSignal;
  /** Include each key's previous version in events (`event.prev`). Default false. */
  readonly prevKv?: boolean;
  /**
   * What to do when the history the watch needs was compacted, or etcd was restored from older data:
   * `false` (default) throws a `COMPACTED` CoordError carrying `compactRevision` (or
   * `REVISION_REGRESSED`); `true` re-reads the current state and yields it as one batch marked
   * `resync: true`, then continues from there.
   */
  readonly resync?: boolean;
}

/**
 * A running watch: iterate it with `for await`; leaving the loop (or `close()`, or the signal)
 * cancels the etcd watch. Iterate it once.
 */
export interface Watch extends AsyncIterable<WatchBatch>, AsyncDisposable {
  /** Resolves with the revision after which every change is guaranteed to be delivered. */
  created(): Promise<bigint>;
  /** Stops the watch; pending `next()` calls end the loop. Idempotent. */
  close(): void;
}

function rangeOf(target: WatchTarget): { key: Buffer; rangeEnd?: Buffer; name: string } {
  if ('key' in target) {
    assertArgument(typeof target.key === 'string' && target.key.length > 0, 'key', 'a non-empty string');
    return { key: Buffer.from(target.key), name: target.key };
  }
  assertArgument(
    typeof target.prefix === 'string' && target.prefix.length > 0,
    'prefix',
    'a non-empty string',
  );
  const key = Buffer.from(target.prefix);
  return { key, rangeEnd: prefixRangeEnd(key), name: `${target.prefix}*` };
}

/**
 * Watches a key or prefix. Batches come in revision order, one per revision (a transaction's
 * events together), with no gap and no duplicate across reconnects, member failures and etcd's own
 * replays. All watches of a client share one gRPC stream.
 */
export function watch(client: Etcd3, target: WatchTarget, options: WatchOptions = {}): Watch {
  const { key, rangeEnd, name } = rangeOf(target);
  const from = options.fromRevision ?? 0n;
  assertArgument(typeof from === 'bigint' && from >= 0n, 'fromRevision', 'a bigint revision >= 0');
  const what = `watch "${name}"`;
  const queue: WatchBatch[] = [];
  let failure: CoordError | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  let waiter: ((result: IteratorResult<WatchBatch>) => void) | undefined;
  let createdResolve!: (revision: bigint) => void;
  let createdReject!: (err: unknown) => void;
  const createdPromise = new Promise<bigint>((resolve, reject) => {
    createdResolve = resolve;
    createdReject = reject;
  });
  createdPromise.catch(() => undefined);
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const hub = hubOf(client);
  let watcher: HubWatcher;
  const open = (startRevision: bigint) =>
    hub.add(
      { key, ...(rangeEnd ? { rangeEnd } : {}), startRevision, prevKv: options.prevKv ?? false, what },
      {
        created: (revision) => createdResolve(revision),
        batch: (batch) => {
          // Fast path for fan-out: hand the batch straight to a waiting next() (one promise hop, not two).
          const waiting = waiter;
          if (waiting && queue.length === 0) {
            waiter = undefined;
            wake = undefined;
            waiting({ value: batch, done: false });
            return;
          }
          queue.push(batch);
          notify();
        },
        failed: (error) => {
          // Compaction and a rollback (F21) both mean the history cannot be followed: re-list when asked.
          const relist = error.code === ErrorCodes.COMPACTED || error.code === ErrorCodes.REVISION_REGRESSED;
          if (relist && options.resync && !ended) {
            void resync();
            return;
          }
          failure = error;
          createdReject(error);
          notify();
        },
      },
    );
  const resync = async () => {
    try {
      const snapshot = await readRange(client, { key, ...(rangeEnd ? { rangeEnd } : {}) }, what);
      if (ended) return;
      queue.push({
        revision: snapshot.revision,
        resync: true,
        events: snapshot.kvs.map((kv) => ({
          type: 'put' as const,
          key: kv.key,
          value: kv.value,
          revision: kv.modRevision,
          createRevision: kv.createRevision,
          version: kv.version,
          ...(kv.lease === undefined ? {} : { lease: kv.lease }),
        })),
      });
      watcher = open(snapshot.revision + 1n);
      notify();
    } catch (err) {
      failure =
        err instanceof CoordError
          ? err
          : new CoordError(ErrorCodes.INTERNAL, `${what}: resync failed`, { cause: err });
      notify();
    }
  };
  watcher = open(from);
  const close = () => {
    if (ended) return;
    ended = true;
    hub.remove(watcher);
    options.signal?.removeEventListener('abort', close);
    createdReject(new CoordError(ErrorCodes.CLOSED, `${what}: closed before etcd confirmed it`));
    notify();
  };
  if (options.signal?.aborted) close();
  else options.signal?.addEventListener('abort', close, { once: true });

  const iterator: AsyncIterator<WatchBatch> = {
    // Not async on purpose: a waiting next() is resolved straight from the hub's delivery, which
    // keeps the per-batch cost of a 1,000-watcher fan-out at one promise settlement.
    next(): Promise<IteratorResult<WatchBatch>> {
      const batch = queue.shift();
      if (batch) return Promise.resolve({ value: batch, done: false });
      if (failure) {
        const error = failure;
        close();
        return Promise.reject(error);
      }
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise<IteratorResult<WatchBatch>>((resolve) => {
        waiter = resolve;
        wake = () => {
          waiter = undefined;
          resolve(iterator.next());
        };
      });
    },
    async return() {
      close();
      return { value: undefined, done: true };
    },
  };
  return {
    [Symbol.asyncIterator]: () => iterator,
    created: () => createdPromise,
    close,
    [Symbol.asyncDispose]: async () => close(),
  };
}
