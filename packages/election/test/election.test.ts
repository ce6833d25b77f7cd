import { CoordError, ErrorCodes, type Session } from '@coordkit/core';
import { Election } from '@coordkit/election';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import {
  contender,
  countRequests,
  describeHistory,
  isSettled,
  keysUnder,
  recordObserver,
} from './helpers.js';

describe('Election', () => {
  it('elects a lone candidate with one transaction, in the Go concurrency key layout', async () => {
    const name = `${uniquePrefix('elect-one')}election`;
    await using a = await contender();
    const requests = countRequests(a.client);
    const election = new Election(a.session, name);
    await using leadership = await election.campaign('node-a');
    expect(requests).toEqual({ txn: 1, range: 0 });
    expect(leadership.key).toBe(`${name}/${BigInt(a.session.leaseId).toString(16)}`);
    expect(election.key).toBe(leadership.key);
    expect(leadership.value).toBe('node-a');
    expect(leadership.isLeader()).toBe(true);
    const stored = await a.client.get(leadership.key).exec();
    expect(stored.kvs[0]?.value.toString()).toBe('node-a');
    expect(String(stored.kvs[0]?.lease)).toBe(a.session.leaseId);
    expect(BigInt(stored.kvs[0]?.create_revision ?? '0')).toBe(leadership.fencingToken);
    const leader = await election.leader();
    expect(leader).toMatchObject({
      key: leadership.key,
      value: 'node-a',
      fencingToken: leadership.fencingToken,
      leaseId: a.session.leaseId,
    });
  });

  it('makes the second candidate wait, and resign hands over; leader() and observe() follow', async () => {
    const name = `${uniquePrefix('elect-handover')}election`;
    await using a = await contender();
    await using b = await contender();
    await using watcher = await contender();
    const observer = recordObserver(watcher.session, name);
    await waitFor(() => observer.history.length === 1, { message: 'first observation' });
    expect(observer.history).toEqual([undefined]);
    expect(await new Election(watcher.session, name).leader()).toBeUndefined();

    const first = await new Election(a.session, name).campaign('a');
    const second = new Election(b.session, name).campaign('b');
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 2, { message: 'b queued' });
    expect(await isSettled(second)).toBe(false);
    expect((await new Election(watcher.session, name).leader())?.value).toBe('a');

    await first.proclaim('a2');
    expect(first.value).toBe('a2');
    await waitFor(() => observer.history.at(-1)?.value === 'a2', { message: 'a2 observed' });
    expect(await isSettled(second)).toBe(false);

    await first.resign();
    expect(first.isLeader()).toBe(false);
    expect(CoordError.is(first.signal.reason, ErrorCodes.NOT_LEADER)).toBe(true);
    const next = await second;
    expect(next.fencingToken > first.fencingToken).toBe(true);
    expect((await new Election(watcher.session, name).leader())?.value).toBe('b');
    await next.resign();
    await waitFor(() => observer.history.length === 5, { message: 'five observations' });
    await observer.stop();
    // b joining changed no leader, so it is not reported; nothing is reported twice.
    expect(describeHistory(observer.history)).toEqual([
      '-',
      `a@${first.fencingToken}`,
      `a2@${first.fencingToken}`,
      `b@${next.fencingToken}`,
      '-',
    ]);
    expect(await keysUnder(a.client, `${name}/`)).toEqual([]);
  });

  it('a cancelled campaign rejects with the signal reason and leaves no key (F13)', async () => {
    const name = `${uniquePrefix('elect-cancel')}election`;
    await using a = await contender();
    await using b = await contender();
    await using c = await contender();
    await using leadership = await new Election(a.session, name).campaign('a');
    const controller = new AbortController();
    const cancelled = new Election(b.session, name).campaign('b', { signal: controller.signal });
    const third = new Election(c.session, name).campaign('c');
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 3, {
      message: 'b and c queued',
    });
    const reason = new Error('stop campaigning');
    controller.abort(reason);
    await expect(cancelled).rejects.toBe(reason);
    expect((await keysUnder(a.client, `${name}/`)).map((kv) => kv.value)).toEqual(['a', 'c']);
    // c queued behind b: b's key is gone at once, so c takes over as soon as a resigns (not after b's TTL).
    await leadership.resign();
    await using next = await third;
    expect(next.value).toBe('c');
  });

  it('a campaign timeout rejects with TIMEOUT and leaves no key', async () => {
    const name = `${uniquePrefix('elect-timeout')}election`;
    await using a = await contender();
    await using b = await contender();
    await using _leadership = await new Election(a.session, name).campaign('a');
    const started = performance.now();
    await expect(new Election(b.session, name).campaign('b', { timeout: 300 })).rejects.toMatchObject({
      code: ErrorCodes.TIMEOUT,
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect((await keysUnder(a.client, `${name}/`)).map((kv) => kv.value)).toEqual(['a']);
  });

  it('a campaign whose own session is lost while waiting rejects with SESSION_EXPIRED (F14)', async () => {
    const name = `${uniquePrefix('elect-lost-wait')}election`;
    await using a = await contender();
    await using b = await contender({ ttl: 2 });
    await using _leadership = await new Election(a.session, name).campaign('a');
    const waiting = new Election(b.session, name).campaign('b');
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 2, { message: 'b queued' });
    await a.client.leaseClient.leaseRevoke({ ID: b.session.leaseId });
    await expect(waiting).rejects.toMatchObject({ code: ErrorCodes.SESSION_EXPIRED });
    expect((await keysUnder(a.client, `${name}/`)).map((kv) => kv.value)).toEqual(['a']);
  });

  it('rejects bad names and arguments with INVALID_ARGUMENT before writing anything', async () => {
    const prefix = uniquePrefix('elect-args');
    await using a = await contender();
    for (const bad of ['', `${prefix}x/`, 'a\nb']) {
      expect(() => new Election(a.session, bad)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
    expect(() => new Election(undefined as unknown as Session, 'x')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    const election = new Election(a.session, `${prefix}election`);
    await expect(election.campaign(42 as unknown as string)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(election.campaign('v', { timeout: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await keysUnder(a.client, prefix)).toEqual([]);
    await using leadership = await election.campaign('v');
    await expect(leadership.proclaim(7 as unknown as string)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(leadership.resign({ timeout: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(leadership.isLeader()).toBe(true);
  });

  it('observe() ends when its signal aborts and when the loop is left, stopping its watch', async () => {
    const name = `${uniquePrefix('elect-observe-end')}election`;
    await using a = await contender();
    const election = new Election(a.session, name);
    const controller = new AbortController();
    controller.abort();
    const none: unknown[] = [];
    for await (const leader of election.observe({ signal: controller.signal })) none.push(leader);
    expect(none).toEqual([]);
    await using leadership = await election.campaign('a');
    for await (const leader of election.observe()) {
      expect(leader?.key).toBe(leadership.key);
      break;
    }
    const stopping = new AbortController();
    const seen: unknown[] = [];
    const loop = (async () => {
      for await (const leader of election.observe({ signal: stopping.signal })) seen.push(leader?.value);
    })();
    await waitFor(() => seen.length === 1, { message: 'first observation' });
    stopping.abort();
    await loop;
    expect(seen).toEqual(['a']);
  });
});
