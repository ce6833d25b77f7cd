import { CoordError, createClient, ErrorCodes, monotonicNow, Session } from '@coordkit/core';
import { faultProxy, sharedEndpoints, waitFor } from '@coordkit/testing';
import { describe, expect, it, vi } from 'vitest';
import { aborted, sharedClient } from './helpers.js';

async function leaseTtl(leaseId: string): Promise<number> {
  using client = sharedClient();
  const response = await client.leaseClient.leaseTimeToLive({ ID: leaseId });
  return Number(response.TTL);
}

describe('Session', () => {
  it('grants one lease, keeps it alive past its TTL, and revokes it on close', async () => {
    using client = sharedClient();
    const session = await Session.create(client, { ttl: 1 });
    expect(session.leaseIdHex).toBe(BigInt(session.leaseId).toString(16));
    // Three TTLs later the lease must still be there: keepalive works.
    const start = monotonicNow();
    await waitFor(() => monotonicNow() - start > 3000, { timeout: 5000 });
    expect(session.isAlive()).toBe(true);
    // etcd reports whole seconds left: 0 means "under a second", -1 means gone.
    expect(await leaseTtl(session.leaseId)).toBeGreaterThanOrEqual(0);
    expect(session.safeUntil).toBeGreaterThan(monotonicNow());
    await session.close();
    await session.close();
    expect(session.isAlive()).toBe(false);
    expect(CoordError.is(session.signal.reason, ErrorCodes.SESSION_CLOSED)).toBe(true);
    expect(await leaseTtl(session.leaseId)).toBe(-1);
  });

  it('rejects a bad ttl or lease id with INVALID_ARGUMENT before contacting etcd', async () => {
    using client = sharedClient();
    await expect(Session.create(client, { ttl: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(Session.create(client, { ttl: 1.5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(Session.create(client, { leaseId: 'abc' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('resumes an existing lease by id, and refuses one that is gone', async () => {
    using client = sharedClient();
    const first = await Session.create(client, { ttl: 5 });
    first.orphan();
    expect(CoordError.is(first.signal.reason, ErrorCodes.SESSION_CLOSED)).toBe(true);
    expect(await leaseTtl(first.leaseId)).toBeGreaterThan(0); // orphan does not revoke
    const resumed = await Session.create(client, { leaseId: first.leaseId });
    expect(resumed.leaseId).toBe(first.leaseId);
    expect(resumed.isAlive()).toBe(true);
    await resumed.close();
    await expect(Session.create(client, { leaseId: first.leaseId })).rejects.toMatchObject({
      code: 'SESSION_EXPIRED',
    });
  });

  it('F4: an operator revoking the lease is signalled once, at the next keepalive', async () => {
    using client = sharedClient();
    const session = await Session.create(client, { ttl: 3 });
    let aborts = 0;
    session.signal.addEventListener('abort', () => aborts++);
    const revokedAt = monotonicNow();
    await client.leaseClient.leaseRevoke({ ID: session.leaseId });
    const reason = await aborted(session.signal);
    const noticedAfter = monotonicNow() - revokedAt;
    expect(CoordError.is(reason, ErrorCodes.SESSION_EXPIRED)).toBe(true);
    // Keepalives go every TTL/3 = 1 s; loss is known at the first one after the revoke.
    expect(noticedAfter).toBeLessThan(1000 + 300);
    expect(session.isAlive()).toBe(false);
    await session.close();
    expect(aborts).toBe(1);
  });

  it('F2: a blackholed client declares loss at send time of the last acked keepalive + TTL, not 2 x TTL', async () => {
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const client = createClient({ endpoints: [proxy.endpoint] });
    try {
      const session = await Session.create(client, { ttl: 2 });
      // Let a few keepalives be acknowledged through the proxy first.
      const firstDeadline = session.safeUntil;
      await waitFor(() => session.safeUntil > firstDeadline + 500, { timeout: 5000 });
      proxy.blackhole();
      const cutAt = monotonicNow();
      await aborted(session.signal);
      const declaredAt = monotonicNow();
      expect(CoordError.is(session.signal.reason, ErrorCodes.SESSION_EXPIRED)).toBe(true);
      // Declared at the deadline (plus timer slack), never before it...
      expect(declaredAt).toBeGreaterThanOrEqual(session.safeUntil - 1);
      expect(declaredAt - session.safeUntil).toBeLessThan(100);
      // ...and the last acknowledged keepalive was sent before the cut, so within one TTL of it
      // (etcd3 would take up to 2 x TTL = 4 s).
      expect(declaredAt - cutAt).toBeLessThanOrEqual(2000 + 100);
      proxy.heal();
    } finally {
      client.close();
    }
  });

  it('F3: a connection reset shorter than the TTL loses nothing and keepalives resume', async () => {
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const client = createClient({ endpoints: [proxy.endpoint] });
    try {
      const session = await Session.create(client, { ttl: 2 });
      for (let i = 0; i < 3; i++) {
        const before = session.safeUntil;
        proxy.reset();
        // A newer acknowledgement after the reset proves the stream came back.
        await waitFor(() => session.safeUntil > before, { timeout: 3000, message: 'keepalive after reset' });
      }
      expect(session.isAlive()).toBe(true);
      expect(session.signal.aborted).toBe(false);
      await session.close();
    } finally {
      client.close();
    }
  });

  it('F19: a wall-clock jump has no effect on the lease deadline', async () => {
    using client = sharedClient();
    const session = await Session.create(client, { ttl: 1 });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      vi.setSystemTime(Date.now() + 3_600_000);
      const before = session.safeUntil;
      await waitFor(() => session.safeUntil > before + 700, { timeout: 3000 });
      vi.setSystemTime(Date.now() - 7_200_000);
      const again = session.safeUntil;
      await waitFor(() => session.safeUntil > again + 700, { timeout: 3000 });
      expect(session.isAlive()).toBe(true);
    } finally {
      vi.useRealTimers();
      await session.close();
    }
  });

  it('F20: an event loop starved past the TTL declares loss instead of assuming the lease survived', async () => {
    using client = sharedClient();
    const session = await Session.create(client, { ttl: 1 });
    const until = monotonicNow() + 1300;
    while (monotonicNow() < until) {
      // Busy CPU work: no timer or keepalive can run.
    }
    expect(session.isAlive()).toBe(false);
    expect(CoordError.is(session.signal.reason, ErrorCodes.SESSION_EXPIRED)).toBe(true);
    await session.close();
  });

  it('closing through the create signal revokes the lease', async () => {
    using client = sharedClient();
    const controller = new AbortController();
    const session = await Session.create(client, { ttl: 5, signal: controller.signal });
    controller.abort();
    await aborted(session.signal);
    await waitFor(async () => (await leaseTtl(session.leaseId)) === -1, { timeout: 3000 });
  });
});
