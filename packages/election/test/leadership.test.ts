import { CoordError, ErrorCodes } from '@coordkit/core';
import { Election, type LeaderInfo, type Leadership } from '@coordkit/election';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { aborted, contender, countRequests, isSettled, keysUnder } from './helpers.js';

describe('Leadership', () => {
  it('a deleted leader key deposes: signal NOT_LEADER, proclaim NOT_LEADER, fenced writes rejected', async () => {
    const prefix = uniquePrefix('elect-deposed');
    await using a = await contender();
    const election = new Election(a.session, `${prefix}election`);
    const deposed: unknown[] = [];
    election.events.on('deposed', (_leadership, reason) => deposed.push(reason));
    const leadership = await election.campaign('a');
    const fenced = await leadership
      .txn()
      .then(a.client.put(`${prefix}data`).value('while leader'))
      .commit();
    expect(fenced.succeeded).toBe(true);
    await a.client.delete().key(leadership.key).exec();
    const reason = await aborted(leadership.signal);
    expect(CoordError.is(reason, ErrorCodes.NOT_LEADER)).toBe(true);
    expect(deposed).toEqual([reason]);
    expect(leadership.isLeader()).toBe(false);
    await expect(leadership.proclaim('again')).rejects.toMatchObject({ code: ErrorCodes.NOT_LEADER });
    const late = await leadership
      .txn()
      .then(a.client.put(`${prefix}data`).value('late'))
      .commit();
    expect(late.succeeded).toBe(false);
    expect(await a.client.get(`${prefix}data`).string()).toBe('while leader');
    await leadership.resign();
    await leadership.resign();
    // Once deposed, this session may campaign again, with a newer token.
    await using again = await election.campaign('a-again');
    expect(again.fencingToken > leadership.fencingToken).toBe(true);
  });

  it('proclaim by a leader deposed without noticing fails with NOT_LEADER (F16)', async () => {
    const name = `${uniquePrefix('elect-proclaim')}election`;
    await using a = await contender();
    await using b = await contender();
    const leadership = await new Election(a.session, name).campaign('a');
    // Another client replaces the key (same name, new create revision) before a's watch can tell it.
    await b.client.delete().key(leadership.key).exec();
    await b.client.put(leadership.key).value('impostor').exec();
    await expect(leadership.proclaim('mine')).rejects.toMatchObject({ code: ErrorCodes.NOT_LEADER });
    expect(leadership.signal.aborted).toBe(true);
    expect(await b.client.get(leadership.key).string()).toBe('impostor');
    await leadership.resign();
    expect(await b.client.get(leadership.key).string()).toBe('impostor');
    await b.client.delete().key(leadership.key).exec();
  });

  it('a restarted process resuming its lease reclaims leadership with its token and proclaims its new value', async () => {
    const name = `${uniquePrefix('elect-resume')}election`;
    await using before = await contender();
    await using c = await contender();
    const old = await new Election(before.session, name).campaign('v1');
    const waiting = new Election(c.session, name).campaign('c');
    await waitFor(async () => (await keysUnder(c.client, `${name}/`)).length === 2, { message: 'c queued' });
    before.session.orphan();
    await using after = await contender({ leaseId: before.session.leaseId });
    const requests = countRequests(after.client);
    await using resumed = await new Election(after.session, name).campaign('v2');
    expect(resumed.key).toBe(old.key);
    expect(resumed.fencingToken).toBe(old.fencingToken);
    expect(resumed.value).toBe('v2');
    // The join found the key, a read placed it in line, and one guarded put proclaimed v2.
    expect(requests.txn).toBe(3);
    const leader = await new Election(c.session, name).leader();
    expect(leader).toMatchObject({ key: old.key, value: 'v2', fencingToken: old.fencingToken });
    expect(await isSettled(waiting)).toBe(false);
    await resumed.resign();
    await using next = await waiting;
    expect(next.value).toBe('c');
  });

  it('refuses a second concurrent campaign on the same session with CONFLICT', async () => {
    const name = `${uniquePrefix('elect-conflict')}election`;
    await using a = await contender();
    await using leadership = await new Election(a.session, name).campaign('a');
    await expect(new Election(a.session, name).campaign('again')).rejects.toMatchObject({
      code: ErrorCodes.CONFLICT,
    });
    expect(leadership.isLeader()).toBe(true);
    expect((await keysUnder(a.client, `${name}/`)).map((kv) => kv.value)).toEqual(['a']);
    await leadership.resign();
    await using again = await new Election(a.session, name).campaign('a2');
    expect(again.value).toBe('a2');
  });

  it('lead() runs the function while leader and resigns when it returns or throws', async () => {
    const name = `${uniquePrefix('elect-lead')}election`;
    await using a = await contender();
    const election = new Election(a.session, name);
    let held: Leadership | undefined;
    const token = await election.lead('a', (leadership) => {
      held = leadership;
      expect(leadership.isLeader()).toBe(true);
      return leadership.fencingToken;
    });
    expect(token).toBe(held?.fencingToken);
    expect(held?.isLeader()).toBe(false);
    expect(await keysUnder(a.client, `${name}/`)).toEqual([]);
    const boom = new Error('boom');
    await expect(
      election.lead('a', async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await keysUnder(a.client, `${name}/`)).toEqual([]);
  });

  it('emits elected, deposed and leader diagnostics', async () => {
    const name = `${uniquePrefix('elect-events')}election`;
    await using a = await contender();
    const election = new Election(a.session, name);
    const seen: string[] = [];
    election.events.on('elected', (leadership) => seen.push(`elected ${leadership.value}`));
    election.events.on('deposed', (_leadership, reason) =>
      seen.push(`deposed ${(reason as CoordError).code}`),
    );
    election.events.on('leader', (leader: LeaderInfo | undefined) =>
      seen.push(`leader ${leader?.value ?? '-'}`),
    );
    const leadership = await election.campaign('a');
    await election.leader();
    await leadership.resign();
    await election.leader();
    expect(seen).toEqual(['elected a', 'leader a', 'deposed NOT_LEADER', 'leader -']);
  });

  it('closing the session while leading aborts the leadership with SESSION_CLOSED', async () => {
    const name = `${uniquePrefix('elect-close')}election`;
    const a = await contender();
    await using watcher = await contender();
    const leadership = await new Election(a.session, name).campaign('a');
    await a.session.close();
    expect(CoordError.is(await aborted(leadership.signal), ErrorCodes.SESSION_CLOSED)).toBe(true);
    await leadership.resign();
    expect(await new Election(watcher.session, name).leader()).toBeUndefined();
    a.client.close();
  });
});
