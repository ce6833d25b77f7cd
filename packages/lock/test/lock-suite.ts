import { CoordError, ErrorCodes, monotonicNow, type Session, type WaitOptions, watch } from '@coordkit/core';
import type { LockHandle } from '@coordkit/lock';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { contender, isSettled, keysUnder, readCounter, sharedClient } from './helpers.js';

/** What the contract suite needs from an exclusive lock implementation. */
export interface ExclusiveLock {
  acquire(options?: WaitOptions): Promise<LockHandle>;
  tryAcquire(): Promise<LockHandle | undefined>;
}

/** Builds the lock under test on `session` for lock name `name`. */
export type ExclusiveLockFactory = (session: Session, name: string) => ExclusiveLock;

/**
 * Increments `counterKey` read-modify-write through the holder's fenced transaction plus a mod-revision
 * compare: it lands only while the lock is held and nobody wrote in between.
 */
export async function guardedIncrement(
  handle: LockHandle,
  client: Etcd3,
  counterKey: string,
): Promise<boolean> {
  const { value, modRevision } = await readCounter(client, counterKey);
  const result = await handle
    .txn()
    .and(counterKey, 'Mod', '==', modRevision.toString())
    .then(client.put(counterKey).value(String(value + 1)))
    .commit();
  return result.succeeded;
}

/** Resolves once `client`'s watch stream has delivered a put of `key` made by `write` after it started. */
export async function eventSeenBy(client: Etcd3, key: string, write: () => Promise<unknown>): Promise<void> {
  const changes = watch(client, { key });
  try {
    await changes.created();
    await write();
    for await (const batch of changes) if (batch.events.length > 0) return;
  } finally {
    changes.close();
  }
}

/** The behaviour every exclusive lock (Mutex, Semaphore(1), RWLock writers) shares. */
export function lockSuite(label: string, factory: ExclusiveLockFactory): void {
  describe(`${label}: exclusive lock contract`, () => {
    it('gives mutual exclusion to 16 concurrent clients, fenced tokens increasing in grant order', async () => {
      const prefix = uniquePrefix('lock-mutex');
      const name = `${prefix}lock`;
      const counterKey = `${prefix}counter`;
      const contenders = await Promise.all(Array.from({ length: 16 }, () => contender()));
      const rounds = 3;
      let holders = 0;
      let maxHolders = 0;
      const tokens: bigint[] = [];
      let landed = 0;
      try {
        await Promise.all(
          contenders.map(async ({ client, session }) => {
            const lock = factory(session, name);
            for (let round = 0; round < rounds; round++) {
              const handle = await lock.acquire({ timeout: 30_000 });
              holders++;
              maxHolders = Math.max(maxHolders, holders);
              tokens.push(handle.fencingToken);
              if (await guardedIncrement(handle, client, counterKey)) landed++;
              holders--;
              await handle.release();
            }
          }),
        );
      } finally {
        await Promise.all(contenders.map((c) => c[Symbol.asyncDispose]()));
      }
      using client = sharedClient();
      expect(maxHolders).toBe(1);
      expect(tokens).toHaveLength(16 * rounds);
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
      expect(landed).toBe(16 * rounds);
      expect((await readCounter(client, counterKey)).value).toBe(16 * rounds);
      expect(await keysUnder(client, `${name}/`)).toEqual([]);
    });

    it('grants waiters in the order they queued (FIFO by create revision)', async () => {
      const prefix = uniquePrefix('lock-fifo');
      const name = `${prefix}lock`;
      await using a = await contender();
      const others = await Promise.all([contender(), contender(), contender()]);
      try {
        const holder = await factory(a.session, name).acquire();
        const order: string[] = [];
        const waits: Promise<void>[] = [];
        for (const [i, c] of others.entries()) {
          waits.push(
            factory(c.session, name)
              .acquire({ timeout: 20_000 })
              .then(async (handle) => {
                order.push(`waiter-${i}`);
                await handle.release();
              }),
          );
          // Queue the next one only once this one's key stands, so the queue order is known.
          await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === i + 2, {
            message: `waiter ${i} queued`,
          });
        }
        expect(order).toEqual([]);
        await holder.release();
        await Promise.all(waits);
        expect(order).toEqual(['waiter-0', 'waiter-1', 'waiter-2']);
      } finally {
        await Promise.all(others.map((c) => c[Symbol.asyncDispose]()));
      }
    });

    it('F13: a cancelled wait deletes its key at once and does not block the waiter behind it', async () => {
      const prefix = uniquePrefix('lock-cancel');
      const name = `${prefix}lock`;
      await using a = await contender();
      await using b = await contender();
      await using c = await contender();
      const holder = await factory(a.session, name).acquire();
      const controller = new AbortController();
      const cancelled = factory(b.session, name).acquire({ signal: controller.signal });
      await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 2, {
        message: 'b queued',
      });
      const behind = factory(c.session, name).acquire();
      await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 3, {
        message: 'c queued',
      });
      const reason = new Error('caller gave up');
      controller.abort(reason);
      await expect(cancelled).rejects.toBe(reason);
      // Deleted before the rejection, not after a TTL: no waitFor.
      const left = await keysUnder(a.client, `${name}/`);
      expect(left.some((k) => k.key.includes(b.session.leaseIdHex))).toBe(false);
      expect(left).toHaveLength(2);
      // c saw b's key go (its client's one watch stream delivers in revision order, and a later event
      // has arrived on it), yet b was not the only key ahead of it: c must still be waiting for a.
      await eventSeenBy(c.client, `${prefix}sync`, () => a.client.put(`${prefix}sync`).value('x').exec());
      expect(await isSettled(behind)).toBe(false);
      const releasedAt = monotonicNow();
      await holder.release();
      const next = await behind;
      // Sessions have a 10 s TTL: being blocked by b's key would cost that much.
      expect(monotonicNow() - releasedAt).toBeLessThan(2000);
      expect(next.isHeld()).toBe(true);
      await next.release();
    });

    it('a timed-out wait rejects with TIMEOUT and leaves no key', async () => {
      const prefix = uniquePrefix('lock-timeout');
      const name = `${prefix}lock`;
      await using a = await contender();
      await using b = await contender();
      const holder = await factory(a.session, name).acquire();
      const startedAt = monotonicNow();
      const err = await factory(b.session, name)
        .acquire({ timeout: 300 })
        .catch((e: unknown) => e);
      expect(CoordError.is(err, ErrorCodes.TIMEOUT)).toBe(true);
      expect(monotonicNow() - startedAt).toBeGreaterThanOrEqual(290);
      expect((await keysUnder(a.client, `${name}/`)).map((k) => k.key)).toEqual([holder.key]);
      await holder.release();
      const after = await factory(b.session, name).tryAcquire();
      expect(after?.isHeld()).toBe(true);
      await after?.release();
    });

    it('tryAcquire returns undefined while held, without leaving a key, and a handle once free', async () => {
      const prefix = uniquePrefix('lock-try');
      const name = `${prefix}lock`;
      await using a = await contender();
      await using b = await contender();
      const holder = await factory(a.session, name).acquire();
      expect(await factory(b.session, name).tryAcquire()).toBeUndefined();
      expect((await keysUnder(a.client, `${name}/`)).map((k) => k.key)).toEqual([holder.key]);
      await holder.release();
      await using taken = await factory(b.session, name).tryAcquire();
      expect(taken).toBeDefined();
      expect(taken!.isHeld()).toBe(true);
      expect(taken!.fencingToken > holder.fencingToken).toBe(true);
    });

    it('release is idempotent, aborts the handle signal, and fences later writes', async () => {
      const prefix = uniquePrefix('lock-release');
      const name = `${prefix}lock`;
      await using a = await contender();
      const handle = await factory(a.session, name).acquire();
      expect(handle.isHeld()).toBe(true);
      expect(handle.signal.aborted).toBe(false);
      expect(await guardedIncrement(handle, a.client, `${prefix}counter`)).toBe(true);
      await Promise.all([handle.release(), handle.release()]);
      await handle[Symbol.asyncDispose]();
      expect(handle.isHeld()).toBe(false);
      expect(CoordError.is(handle.signal.reason, ErrorCodes.CLOSED)).toBe(true);
      expect(await keysUnder(a.client, `${name}/`)).toEqual([]);
      expect(await guardedIncrement(handle, a.client, `${prefix}counter`)).toBe(false);
      expect((await readCounter(a.client, `${prefix}counter`)).value).toBe(1);
    });
  });
}
