import { RWLock } from '@coordkit/lock';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { contender, isSettled, keysUnder } from './helpers.js';
import { eventSeenBy, lockSuite } from './lock-suite.js';

lockSuite('RWLock writers', (session, name) => {
  const rw = new RWLock(session, name);
  return { acquire: (options) => rw.writeLock(options), tryAcquire: () => rw.tryWriteLock() };
});

describe('RWLock', () => {
  it('lets readers hold together and keeps a writer out until every earlier reader is gone', async () => {
    const name = `${uniquePrefix('rw-share')}rw`;
    await using a = await contender();
    await using b = await contender();
    await using c = await contender();
    const [r1, r2] = await Promise.all([
      new RWLock(a.session, name).readLock(),
      new RWLock(b.session, name).readLock(),
    ]);
    expect(r1.isHeld() && r2.isHeld()).toBe(true);
    expect(r1.key.startsWith(`${name}/read/${a.session.leaseIdHex}-`)).toBe(true);
    const writerLock = new RWLock(c.session, name);
    expect(await writerLock.tryWriteLock()).toBeUndefined();
    const writer = writerLock.writeLock();
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 3, {
      message: 'writer queued',
    });
    await r1.release();
    expect(await isSettled(writer)).toBe(false);
    await r2.release();
    await using w = await writer;
    expect(w.key.startsWith(`${name}/write/${c.session.leaseIdHex}-`)).toBe(true);
    expect(w.fencingToken > r2.fencingToken).toBe(true);
  });

  it('queues a reader behind an earlier writer (no writer starvation), and shares again after it', async () => {
    const name = `${uniquePrefix('rw-fifo')}rw`;
    await using a = await contender();
    await using b = await contender();
    await using c = await contender();
    const events: string[] = [];
    const r1 = await new RWLock(a.session, name).readLock();
    const writer = new RWLock(b.session, name).writeLock().then((h) => {
      events.push('writer');
      return h;
    });
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 2, {
      message: 'writer queued',
    });
    const laterReader = new RWLock(c.session, name).readLock().then((h) => {
      events.push('reader-2');
      return h;
    });
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 3, {
      message: 'reader queued',
    });
    expect(await new RWLock(c.session, name).tryReadLock()).toBeUndefined();
    expect(events).toEqual([]);
    await r1.release();
    const w = await writer;
    expect(await isSettled(laterReader)).toBe(false);
    expect(events).toEqual(['writer']);
    await w.release();
    await using r2 = await laterReader;
    expect(events).toEqual(['writer', 'reader-2']);
    // A reader arriving now shares with r2 at once.
    await using r3 = await new RWLock(a.session, name).tryReadLock();
    expect(r3?.isHeld()).toBe(true);
    expect(r2.isHeld()).toBe(true);
  });

  it('a reader behind two writers keeps waiting when the newer one gives up, until the older one releases', async () => {
    const prefix = uniquePrefix('rw-two-writers');
    const name = `${prefix}rw`;
    await using a = await contender();
    await using b = await contender();
    await using c = await contender();
    const w1 = await new RWLock(a.session, name).writeLock();
    const giveUp = new AbortController();
    const w2 = new RWLock(b.session, name).writeLock({ signal: giveUp.signal });
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 2, { message: 'w2 queued' });
    const reader = new RWLock(c.session, name).readLock();
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 3, {
      message: 'reader queued',
    });
    giveUp.abort(new Error('w2 gave up'));
    await expect(w2).rejects.toThrow('w2 gave up');
    // The reader watched w2, the key just ahead; w1 is still ahead of it, so w2's delete must not let it in.
    await eventSeenBy(c.client, `${prefix}sync`, () => a.client.put(`${prefix}sync`).value('x').exec());
    expect(await isSettled(reader)).toBe(false);
    await w1.release();
    await using r = await reader;
    expect(r.isHeld()).toBe(true);
  });
});
