import { type ChildProcess, spawn } from 'node:child_process';
import { CoordError, ErrorCodes, type Session } from '@coordkit/core';
import { Mutex } from '@coordkit/lock';
import { sharedEndpoints, uniquePrefix, waitFor } from '@coordkit/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { aborted, contender, isSettled, keysUnder } from './helpers.js';
import { lockSuite } from './lock-suite.js';

lockSuite('Mutex', (session, name) => {
  const mutex = new Mutex(session, name);
  return { acquire: (options) => mutex.lock(options), tryAcquire: () => mutex.tryLock() };
});

describe('Mutex', () => {
  it('uses the Go concurrency key layout and the key create revision as fencing token', async () => {
    const name = `${uniquePrefix('mutex-layout')}lock`;
    await using a = await contender();
    const mutex = new Mutex(a.session, name);
    await using handle = await mutex.lock();
    expect(mutex.key).toBe(`${name}/${BigInt(a.session.leaseId).toString(16)}`);
    expect(handle.key).toBe(mutex.key);
    const [stored] = await keysUnder(a.client, `${name}/`);
    expect(stored).toEqual({ key: mutex.key, createRevision: handle.fencingToken });
    const kv = await a.client.get(mutex.key).exec();
    expect(String(kv.kvs[0]?.lease)).toBe(a.session.leaseId);
  });

  it('queues acquirers of one session in the process: the second waits, then gets a newer token', async () => {
    const name = `${uniquePrefix('mutex-local')}lock`;
    await using a = await contender();
    const first = await new Mutex(a.session, name).lock();
    const second = new Mutex(a.session, name).lock();
    expect(await new Mutex(a.session, name).tryLock()).toBeUndefined();
    // Not reentrant: even the holder's own session waits (a holder calling lock() again would deadlock).
    await expect(new Mutex(a.session, name).lock({ timeout: 200 })).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
    expect(await isSettled(second)).toBe(false);
    expect(first.isHeld()).toBe(true);
    await first.release();
    const next = await second;
    expect(next.key).toBe(first.key);
    expect(next.fencingToken > first.fencingToken).toBe(true);
    expect(next.isHeld()).toBe(true);
    // A late release of the old handle cannot delete the same-named key of the new grant (F15).
    await first.release();
    expect(await keysUnder(a.client, `${name}/`)).toEqual([
      { key: next.key, createRevision: next.fencingToken },
    ]);
    await next.release();
    expect(await keysUnder(a.client, `${name}/`)).toEqual([]);
  });

  it('serves local waiters in arrival order, skipping one that gave up, and a handle first looked at after release reports CLOSED', async () => {
    const name = `${uniquePrefix('mutex-local-fifo')}lock`;
    await using a = await contender();
    const order: string[] = [];
    const first = await new Mutex(a.session, name).lock();
    const cancel = new AbortController();
    const waiters = ['w1', 'w2', 'w3'].map((label) =>
      new Mutex(a.session, name)
        .lock(label === 'w2' ? { signal: cancel.signal } : {})
        .then(async (handle) => {
          order.push(label);
          await handle.release();
          return handle;
        }),
    );
    cancel.abort(new Error('w2 gave up'));
    await expect(waiters[1]).rejects.toThrow('w2 gave up');
    await first.release();
    const settledAll = await Promise.allSettled(waiters);
    const w1 = settledAll[0];
    const w3 = settledAll[2];
    if (!w1 || !w3) throw new Error('three waiters were started');
    expect(order).toEqual(['w1', 'w3']);
    // Nobody looked at these handles while held: the reason is still the release, built on first look.
    for (const settled of [w1, w3]) {
      expect(settled.status).toBe('fulfilled');
      const handle = (settled as PromiseFulfilledResult<Awaited<(typeof waiters)[0]>>).value;
      expect(handle.signal.aborted).toBe(true);
      expect(CoordError.is(handle.signal.reason, ErrorCodes.CLOSED)).toBe(true);
      expect(handle.isHeld()).toBe(false);
    }
    expect(await keysUnder(a.client, `${name}/`)).toEqual([]);
  });

  it('withLock runs the function holding the lock and releases even when it throws', async () => {
    const name = `${uniquePrefix('mutex-with')}lock`;
    await using a = await contender();
    const mutex = new Mutex(a.session, name);
    const value = await mutex.withLock(async (handle) => {
      expect(handle.isHeld()).toBe(true);
      return handle.fencingToken;
    });
    expect(typeof value).toBe('bigint');
    const boom = new Error('boom');
    let seen: boolean | undefined;
    await expect(
      mutex.withLock((handle) => {
        seen = handle.isHeld();
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(seen).toBe(true);
    expect(await keysUnder(a.client, `${name}/`)).toEqual([]);
  });

  it('rejects bad names and options with INVALID_ARGUMENT before writing anything', async () => {
    const prefix = uniquePrefix('mutex-args');
    await using a = await contender();
    for (const bad of ['', `${prefix}x/`, 'a\nb']) {
      expect(() => new Mutex(a.session, bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(() => new Mutex(undefined as unknown as Session, 'x')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    await expect(new Mutex(a.session, `${prefix}lock`).lock({ timeout: -1 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(await keysUnder(a.client, prefix)).toEqual([]);
  });

  it('aborts the handle signal with LOCK_LOST when the owner key is deleted, and fences its writes', async () => {
    const prefix = uniquePrefix('mutex-lost');
    await using a = await contender();
    const handle = await new Mutex(a.session, `${prefix}lock`).lock();
    await a.client.delete().key(handle.key).exec();
    const reason = await aborted(handle.signal);
    expect(CoordError.is(reason, ErrorCodes.LOCK_LOST)).toBe(true);
    expect(handle.isHeld()).toBe(false);
    const write = await handle
      .txn()
      .then(a.client.put(`${prefix}data`).value('late'))
      .commit();
    expect(write.succeeded).toBe(false);
    await handle.release();
    expect(CoordError.is(handle.signal.reason, ErrorCodes.LOCK_LOST)).toBe(true);
  });

  it('aborts the handle signal with SESSION_EXPIRED when the lease is revoked (F4)', async () => {
    await using a = await contender({ ttl: 2 });
    const handle = await new Mutex(a.session, `${uniquePrefix('mutex-revoke')}lock`).lock();
    await a.client.leaseClient.leaseRevoke({ ID: a.session.leaseId });
    const reason = await aborted(handle.signal);
    // Either the keepalive (SESSION_EXPIRED) or the key's delete event (LOCK_LOST) tells first.
    expect(
      CoordError.is(reason, ErrorCodes.SESSION_EXPIRED) || CoordError.is(reason, ErrorCodes.LOCK_LOST),
    ).toBe(true);
    await waitFor(() => !a.session.isAlive(), { message: 'session loss' });
    await expect(new Mutex(a.session, `${uniquePrefix('mutex-revoke')}lock`).lock()).rejects.toMatchObject({
      code: 'SESSION_EXPIRED',
    });
    await handle.release();
  });
});

describe('Mutex and etcdctl lock exclude each other', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  function etcdctl(args: string[]): {
    child: ChildProcess;
    output: () => string;
    exited: Promise<number | null>;
  } {
    const child = spawn('etcdctl', [`--endpoints=${sharedEndpoints().join(',')}`, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, output: () => output, exited };
  }

  it('etcdctl lock does not run its command until coordkit releases', async () => {
    const name = `${uniquePrefix('mutex-etcdctl')}lock`;
    await using a = await contender();
    const handle = await new Mutex(a.session, name).lock();
    const ctl = etcdctl(['lock', name, '--', 'echo', 'RAN-UNDER-LOCK']);
    // etcdctl's own key joins the queue behind ours: it is waiting, not failing.
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 2, {
      message: 'etcdctl queued',
    });
    expect(ctl.output()).not.toContain('RAN-UNDER-LOCK');
    expect(ctl.child.exitCode).toBeNull();
    await handle.release();
    expect(await ctl.exited).toBe(0);
    expect(ctl.output()).toContain('RAN-UNDER-LOCK');
  });

  it('while etcdctl lock holds, tryLock returns undefined and lock waits', async () => {
    const name = `${uniquePrefix('mutex-etcdctl')}lock`;
    await using a = await contender();
    const ctl = etcdctl(['lock', name]);
    // Without a command, etcdctl prints its key once it holds the lock, and holds until signalled.
    await waitFor(() => ctl.output().includes(`${name}/`), { message: 'etcdctl holds', timeout: 15_000 });
    const mutex = new Mutex(a.session, name);
    expect(await mutex.tryLock()).toBeUndefined();
    const waiting = mutex.lock({ timeout: 15_000 });
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 2, {
      message: 'coordkit queued',
    });
    expect(await isSettled(waiting)).toBe(false);
    ctl.child.kill('SIGINT');
    await ctl.exited;
    await using handle = await waiting;
    expect(handle.isHeld()).toBe(true);
  });
});
