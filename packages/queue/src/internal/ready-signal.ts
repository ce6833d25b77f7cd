import { type Session, type Watch, watch } from '@coordkit/core';

interface Waiter {
  readonly after: bigint;
  readonly resolve: () => void;
}

/**
 * Wakes idle consumers by push: one watch on the ready prefix, shared by every waiting call of a
 * queue handle. An idle consumer costs no request; a put wakes at most as many local waiters as it
 * added ready keys, so one new job does not send every waiting call of this process to etcd.
 */
export class ReadySignal {
  readonly #watch: Watch;
  readonly #waiters: Waiter[] = [];
  #lastPut = 0n;
  readonly #created: Promise<bigint>;
  readonly done: Promise<void>;

  constructor(session: Session, prefix: string, onFailure: (err: unknown) => void) {
    const readyWatch = watch(session.client, { prefix }, { resync: true });
    this.#watch = readyWatch;
    this.#created = readyWatch.created();
    this.done = (async () => {
      try {
        for await (const batch of readyWatch) {
          const puts = batch.events.filter((event) => event.type === 'put').length;
          if (puts === 0) continue;
          this.#lastPut = batch.revision;
          // A resync batch lists every ready key, so it may wake everyone.
          this.#wake(batch.resync ? Number.POSITIVE_INFINITY : puts, batch.revision);
        }
      } catch (err) {
        onFailure(err);
      }
    })();
  }

  /** Resolves once etcd confirmed the watch: reads made after this see every later put by push. */
  ready(): Promise<bigint> {
    return this.#created;
  }

  /** Resolves when a ready key is put after `revision` (at once if one already was). */
  waitForPut(revision: bigint, signal: AbortSignal): Promise<void> {
    if (this.#lastPut > revision) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        after: revision,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Wakes one waiter, whatever revision it read at (a woken call that gave up passes its turn on). */
  passOn(): void {
    this.#waiters.shift()?.resolve();
  }

  /** Wakes every waiter (the queue closed, or local state changed). */
  wakeAll(): void {
    this.#wake(Number.POSITIVE_INFINITY, this.#lastPut + 1n);
  }

  close(): void {
    this.#watch.close();
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
  }
}
