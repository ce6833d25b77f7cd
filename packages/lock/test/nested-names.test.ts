import { Election } from '@coordkit/election';
import { Mutex, RWLock, Semaphore } from '@coordkit/lock';
import { uniquePrefix } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { contender } from './helpers.js';

// etcd's Go layout puts lock `jobs` at `jobs/<lease>` and lock `jobs/x` at `jobs/x/<lease>`: the second
// lies inside the first one's key range. Each primitive must ignore the other's nested keys.
describe('names nested inside another name', () => {
  it('a Mutex "a" and a Mutex "a/x" never exclude each other, in either order', async () => {
    const base = `${uniquePrefix('nested')}jobs`;
    await using one = await contender();
    await using two = await contender();
    const inner = await new Mutex(one.session, `${base}/x`).lock();
    const outer = await new Mutex(two.session, base).tryLock();
    expect(outer, 'outer lock must be free while only the nested one is held').toBeDefined();
    await outer!.release();
    // And the other way round: holding the outer name does not block the nested one.
    await inner.release();
    const outerAgain = await new Mutex(two.session, base).lock({ timeout: 2000 });
    const innerAgain = await new Mutex(one.session, `${base}/x`).tryLock();
    expect(innerAgain).toBeDefined();
    await innerAgain!.release();
    await outerAgain.release();
  });

  it('a nested lock older than a waiter does not become its predecessor', async () => {
    const base = `${uniquePrefix('nested-wait')}jobs`;
    await using a = await contender();
    await using b = await contender();
    await using c = await contender();
    const holder = await new Mutex(a.session, base).lock();
    // Many nested keys, older than the waiter: they fill the predecessor page the waiter reads.
    const nested = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        new Semaphore(b.session, `${base}/n${i}`, { permits: 1 }).acquire(),
      ),
    );
    const waiting = new Mutex(c.session, base).lock({ timeout: 5000 });
    await holder.release();
    const next = await waiting;
    expect(next.isHeld()).toBe(true);
    await next.release();
    for (const n of nested) await n.release();
  });

  it('Semaphore and RWLock count only their own keys', async () => {
    const base = `${uniquePrefix('nested-sem')}pool`;
    await using a = await contender();
    await using b = await contender();
    const nestedHolders = await Promise.all([
      new Mutex(a.session, `${base}/inner`).lock(),
      new Semaphore(a.session, `${base}/x`, { permits: 1 }).acquire(),
    ]);
    const permit = await new Semaphore(b.session, base, { permits: 1 }).tryAcquire();
    expect(permit).toBeDefined();
    await permit!.release();
    const writer = await new RWLock(b.session, base).tryWriteLock();
    expect(writer).toBeDefined();
    await writer!.release();
    for (const h of nestedHolders) await h.release();
  });

  it('an Election "e" ignores candidates of an Election "e/x"', async () => {
    const base = `${uniquePrefix('nested-elect')}e`;
    await using a = await contender();
    await using b = await contender();
    const innerLeader = await new Election(a.session, `${base}/x`).campaign('inner');
    const outer = new Election(b.session, base);
    expect(await outer.leader()).toBeUndefined();
    const outerLeader = await outer.campaign('outer', { timeout: 2000 });
    expect((await outer.leader())?.value).toBe('outer');
    await outerLeader.resign();
    await innerLeader.resign();
  });
});
