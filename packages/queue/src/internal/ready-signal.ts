import { CoordError, ErrorCodes, type KeyValue, type Session, type Watch, watch } from '@coordkit/core';

/** How long the ready watch stays open after its last waiter left, for consumers that go idle often. */
const LINGER_MS = 2_000;

interface Waiter {
  readonly after: bigint;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** The ready keys at one revision, all of them (a woken consumer claims from this without a read). */
export interface ReadyView {
  readonly revision: bigint;
  readonly kvs: readonly KeyValue[];
}

/**
 * Wakes idle consumers by push: one watch on the ready prefix, shared by every waiting call of a
 * queue handle, open only while some call waits (and {@link LINGER_MS} after). An idle consumer
 * costs no request, and a busy one is not sent an event for every job any consumer takes. The
 * watch starts right after the revision of the read that found nothing ready, so etcd replays a
 * job put in between: no put is missed and no read is needed to close the gap. And since nothing
 * was ready then, the keys put and not deleted since are exactly the ready set ({@link view}): a
 * woken call claims from it without reading. A put wakes at most as many local waiters as it
 * added ready keys, so one new job does not send every waiting call of this process to etcd.
 */
export class ReadySignal {
  readonly #session: Session;
  readonly #prefix: string;
  readonly #onFailure: (err: unknown) => void;
  readonly #waiters: Waiter[] = [];
  #watch: Watch | undefined;
  /** The first revision the open watch reports. */
  #watchFrom = 0n;
  /** The newest revision at which a ready key was seen put. */
  #lastPut = 0n;
  /** Every ready key while the watch is open (the set was empty when it started), and as of when. */
  readonly #keys = new Map<string, KeyValue>();
  #keysRevision = 0n;
  #lingerTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(session: Session, prefix: string, onFailure: (err: unknown) => void) {
    this.#session = session;
    this.#prefix = prefix;
    this.#onFailure = onFailure;
  }

  /**
   * Resolves when a ready key is put after `revision` (at once if one is known to have been, or if
   * the open watch started too late to tell); rejects with `signal`'s reason, or the watch's error.
   */
  waitForPut(revision: bigint, signal: AbortSignal): Promise<void> {
    if (this.#lastPut > revision) return Promise.resolve();
    if (this.#closed) return Promise.resolve();
    if (!this.#watch) this.#open(revision + 1n);
    // Opened after a later read: puts between `revision` and the watch's start were not seen.
    else if (this.#watchFrom > revision + 1n) return Promise.resolve();
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#remove(waiter);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        after: revision,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** The ready set, exact at its revision, while the watch is open; `undefined` otherwise. */
  view(): ReadyView | undefined {
    if (!this.#watch) return undefined;
    return { revision: this.#keysRevision, kvs: [...this.#keys.values()] };
  }

  /** Wakes one waiter, whatever revision it read at (a woken call that gave up passes its turn on). */
  passOn(): void {
    this.#waiters.shift()?.resolve();
    this.#lingerIfIdle();
  }

  /** Stops the watch and wakes every waiter (the queue closed, or its background is restarting). */
  close(): void {
    this.#closed = true;
    this.#stopWatch();
    this.#wakeAll();
  }

  #open(from: bigint): void {
    const readyWatch = watch(this.#session.client, { prefix: this.#prefix }, { fromRevision: from });
    this.#watch = readyWatch;
    this.#watchFrom = from;
    this.#keys.clear();
    this.#keysRevision = from - 1n;
    void (async () => {
      try {
        for await (const batch of readyWatch) {
          let puts = 0;
          for (const event of batch.events) {
            if (event.type === 'delete') {
              this.#keys.delete(event.key);
              continue;
            }
            puts++;
            this.#keys.set(event.key, {
              key: event.key,
              value: event.value ?? Buffer.alloc(0),
              createRevision: event.createRevision,
              modRevision: event.revision,
              version: event.version,
            });
          }
          this.#keysRevision = batch.revision;
          if (puts === 0) continue;
          this.#lastPut = batch.revision;
          this.#wake(puts, batch.revision);
        }
      } catch (err) {
        if (this.#watch !== readyWatch) return;
        this.#stopWatch();
        if (CoordError.is(err, ErrorCodes.COMPACTED) || CoordError.is(err, ErrorCodes.REVISION_REGRESSED)) {
          // The history after the read it started from is gone: wake everyone to read again.
          this.#wakeAll();
          return;
        }
        for (const waiter of this.#waiters.splice(0)) waiter.reject(err);
        this.#onFailure(err);
      }
    })();
  }

  #stopWatch(): void {
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    const open = this.#watch;
    this.#watch = undefined;
    this.#keys.clear();
    open?.close();
  }

  #remove(waiter: Waiter): void {
    const index = this.#waiters.indexOf(waiter);
    if (index >= 0) this.#waiters.splice(index, 1);
    this.#lingerIfIdle();
  }

  #lingerIfIdle(): void {
    if (this.#waiters.length > 0 || !this.#watch || this.#lingerTimer !== undefined) return;
    this.#lingerTimer = setTimeout(() => {
      this.#lingerTimer = undefined;
      if (this.#waiters.length === 0) this.#stopWatch();
    }, LINGER_MS);
    this.#lingerTimer.unref();
  }

  /** Wakes every waiter whatever it read (they read again, or see the handle closed). */
  #wakeAll(): void {
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
    this.#lingerIfIdle();
  }

  #wake(count: number, revision: bigint): void {
    let left = count;
    for (let i = 0; i < this.#waiters.length && left > 0; ) {
      const waiter = this.#waiters[i]!;
      if (waiter.after < revision) {
        this.#waiters.splice(i, 1);
        waiter.resolve();
        left--;
      } else {
        i++;
      }
    }
    this.#lingerIfIdle();
  }
}
