import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CoordError, createClient, ErrorCodes, monotonicNow, Session } from '@coordkit/core';
import { Mutex } from '@coordkit/lock';
import { faultProxy, sharedEndpoints, startEtcd, uniquePrefix, waitFor } from '@coordkit/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { aborted, contender, keysUnder, readCounter } from './helpers.js';
import { guardedIncrement } from './lock-suite.js';

const fixture = fileURLToPath(new URL('./fixtures/mutex-client.mjs', import.meta.url));

interface ChildClient {
  readonly child: ChildProcess;
  /** Resolves with the next reported message whose `event` is `event`. */
  next(event: string): Promise<Record<string, unknown>>;
  send(line: string): void;
}

describe('lock faults', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
    }
  });

  /** Starts the fixture (built packages) as its own process. */
  function mutexClient(name: string, registerKey: string, ttl: number): ChildClient {
    const child = spawn(
      process.execPath,
      [fixture, sharedEndpoints().join(','), name, registerKey, String(ttl)],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    children.push(child);
    const messages: Record<string, unknown>[] = [];
    const waiters: Array<() => void> = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      messages.push(JSON.parse(line) as Record<string, unknown>);
      for (const wake of waiters.splice(0)) wake();
    });
    return {
      child,
      send: (line) => child.stdin!.write(`${line}\n`),
      async next(event) {
        for (;;) {
          const index = messages.findIndex((m) => m.event === event);
          if (index >= 0) return messages.splice(index, 1)[0]!;
          await new Promise<void>((resolve) => waiters.push(resolve));
        }
      },
    };
  }

  it('F1 + F15: a holder paused past its TTL loses the lock; its late write and release change nothing', async () => {
    const prefix = uniquePrefix('fault-f1');
    const name = `${prefix}lock`;
    const register = `${prefix}register`;
    const old = mutexClient(name, register, 1);
    const locked = await old.next('locked');
    expect(locked.held).toBe(true);
    await using b = await contender();
    const waiting = new Mutex(b.session, name).lock({ timeout: 20_000 });
    await waitFor(async () => (await keysUnder(b.client, `${name}/`)).length === 2, { message: 'b queued' });

    old.child.kill('SIGSTOP');
    const pausedAt = monotonicNow();
    const handle = await waiting;
    // The paused holder's lease expires on the server about 1 s (its TTL) after its last keepalive.
    expect(monotonicNow() - pausedAt).toBeLessThan(4000);
    expect(handle.fencingToken > BigInt(locked.fencingToken as string)).toBe(true);
    const write = await handle.txn().then(b.client.put(register).value('new-holder')).commit();
    expect(write.succeeded).toBe(true);

    old.child.kill('SIGCONT');
    old.send('write');
    const wrote = await old.next('wrote');
    expect(wrote).toMatchObject({ succeeded: false, heldBefore: false, abortedBefore: true });
    expect(['SESSION_EXPIRED', 'LOCK_LOST']).toContain(wrote.reason);
    expect((await b.client.get(register).string()) ?? '').toBe('new-holder');

    // F15: the old holder releasing after its loss deletes nothing of the new holder.
    old.send('release');
    await old.next('released');
    expect((await keysUnder(b.client, `${name}/`)).map((k) => k.key)).toEqual([handle.key]);
    expect(handle.isHeld()).toBe(true);
    expect(handle.signal.aborted).toBe(false);
    old.send('exit');
    await handle.release();
  });

  it('F14: a waiter whose session expires while it is paused fails with SESSION_EXPIRED, never holding', async () => {
    const prefix = uniquePrefix('fault-f14');
    const name = `${prefix}lock`;
    await using a = await contender();
    const holder = await new Mutex(a.session, name).lock();
    const waiter = mutexClient(name, `${prefix}register`, 1);
    const { leaseIdHex } = await waiter.next('session');
    const waiterKey = `${name}/${leaseIdHex as string}`;
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).some((k) => k.key === waiterKey), {
      message: 'waiter queued',
    });

    waiter.child.kill('SIGSTOP');
    // While the waiter sleeps the holder leaves: in etcd the waiter's key is first in line until its lease expires.
    await holder.release();
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 0, {
      message: 'paused waiter lease expired',
    });
    waiter.child.kill('SIGCONT');
    expect(await waiter.next('failed')).toEqual({ event: 'failed', code: 'SESSION_EXPIRED' });
    waiter.send('exit');
    // The lock is free for others at once.
    await using next = await new Mutex(a.session, name).tryLock();
    expect(next?.isHeld()).toBe(true);
  });

  it('F2: a blackholed holder loses the lock at last acked keepalive + TTL; only the new holder writes', async () => {
    const prefix = uniquePrefix('fault-f2');
    const name = `${prefix}lock`;
    const register = `${prefix}register`;
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const client = createClient({ endpoints: [proxy.endpoint] });
    try {
      const session = await Session.create(client, { ttl: 2 });
      const old = await new Mutex(session, name).lock();
      const firstDeadline = session.safeUntil;
      await waitFor(() => session.safeUntil > firstDeadline + 300, { message: 'a keepalive acknowledged' });
      await using b = await contender();
      const waiting = new Mutex(b.session, name).lock({ timeout: 20_000 });
      await waitFor(async () => (await keysUnder(b.client, `${name}/`)).length === 2, {
        message: 'b queued',
      });

      proxy.blackhole();
      const cutAt = monotonicNow();
      const reason = await aborted(old.signal);
      const lostAt = monotonicNow();
      expect(CoordError.is(reason, ErrorCodes.SESSION_EXPIRED)).toBe(true);
      // Declared at the deadline (send time of the last acked keepalive + TTL), a few ms late at most...
      expect(lostAt).toBeGreaterThanOrEqual(session.safeUntil - 1);
      expect(lostAt - session.safeUntil).toBeLessThan(250);
      // ...which is within one TTL of the cut, not etcd3's 2 x TTL.
      expect(lostAt - cutAt).toBeLessThan(2000 + 250);
      expect(old.isHeld()).toBe(false);

      const handle = await waiting;
      expect(await guardedIncrement(handle, b.client, register)).toBe(true);
      proxy.heal();
      const late = await old.txn().then(client.put(register).value('999')).commit();
      expect(late.succeeded).toBe(false);
      expect((await readCounter(b.client, register)).value).toBe(1);
      await old.release();
      expect(handle.isHeld()).toBe(true);
      await handle.release();
    } finally {
      client.close();
    }
  });

  it('F5: killing the etcd leader while the lock changes hands keeps mutual exclusion and clients working', async () => {
    await using cluster = await startEtcd({ nodes: 3 });
    const prefix = uniquePrefix('fault-f5');
    const name = `${prefix}lock`;
    const register = `${prefix}register`;
    const contenders = await Promise.all(
      Array.from({ length: 3 }, () => contender({ ttl: 5 }, { endpoints: cluster.endpoints })),
    );
    let holders = 0;
    let maxHolders = 0;
    let grants = 0;
    let acked = 0;
    let unknown = 0;
    let killed = false;
    const grantsAfterKill = [0, 0, 0];
    try {
      const run = Promise.all(
        contenders.map(async ({ client, session }, i) => {
          const mutex = new Mutex(session, name);
          while (!killed || grantsAfterKill[i]! < 3) {
            const handle = await mutex.lock({ timeout: 20_000 });
            holders++;
            maxHolders = Math.max(maxHolders, holders);
            grants++;
            if (killed) grantsAfterKill[i]!++;
            try {
              if (await guardedIncrement(handle, client, register)) acked++;
            } catch {
              unknown++; // The reply was lost in the failover: applied or not, never both.
            }
            holders--;
            await handle.release();
          }
        }),
      );
      await waitFor(() => grants >= 6, { message: 'lock changing hands', timeout: 20_000 });
      const leader = await cluster.leaderIndex();
      expect(leader).toBeDefined();
      await cluster.kill(leader!);
      killed = true;
      await run;
      await cluster.restart(leader!);
    } finally {
      await Promise.all(contenders.map((c) => c[Symbol.asyncDispose]()));
    }
    expect(maxHolders).toBe(1);
    expect(grantsAfterKill.every((n) => n >= 3)).toBe(true);
    const client = createClient({ endpoints: cluster.endpoints });
    try {
      const { value } = await readCounter(client, register);
      expect(value).toBeGreaterThanOrEqual(acked);
      expect(value).toBeLessThanOrEqual(acked + unknown);
      expect(acked).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });
});
