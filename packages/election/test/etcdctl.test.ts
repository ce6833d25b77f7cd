import { type ChildProcess, spawn } from 'node:child_process';
import { Election } from '@coordkit/election';
import { sharedEndpoints, uniquePrefix, waitFor } from '@coordkit/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { contender, isSettled, keysUnder } from './helpers.js';

describe('Election and etcdctl elect take part in the same election', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  function etcdctl(args: string[]): {
    child: ChildProcess;
    lines: () => string[];
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
    return { child, lines: () => output.split('\n').filter((line) => line !== ''), exited };
  }

  it('etcdctl elect leads while coordkit waits; stopping etcdctl hands leadership to coordkit', async () => {
    const name = `${uniquePrefix('elect-etcdctl')}election`;
    await using a = await contender();
    const election = new Election(a.session, name);
    const ctl = etcdctl(['elect', name, 'v1']);
    // Once elected, etcdctl prints its key and value, and leads until signalled.
    await waitFor(() => ctl.lines().includes('v1'), { timeout: 15_000, message: 'etcdctl elected' });
    const ctlKey = ctl.lines()[0];
    expect(ctlKey?.startsWith(`${name}/`)).toBe(true);
    const ctlLeader = await election.leader();
    expect(ctlLeader).toMatchObject({ key: ctlKey, value: 'v1' });
    const waiting = election.campaign('coordkit');
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 2, {
      message: 'coordkit queued',
    });
    expect(await isSettled(waiting)).toBe(false);
    // SIGTERM: etcdctl resigns (deletes its key) on the way out.
    ctl.child.kill('SIGTERM');
    await ctl.exited;
    await using leadership = await waiting;
    expect(leadership.isLeader()).toBe(true);
    expect(await election.leader()).toMatchObject({ key: leadership.key, value: 'coordkit' });
    expect(leadership.fencingToken > (ctlLeader?.fencingToken ?? Number.POSITIVE_INFINITY)).toBe(true);
  });

  it('etcdctl elect --listen sees coordkit as leader and each value it proclaims', async () => {
    const name = `${uniquePrefix('elect-etcdctl-listen')}election`;
    await using a = await contender();
    await using leadership = await new Election(a.session, name).campaign('ck-1');
    const listener = etcdctl(['elect', '-l', name]);
    await waitFor(() => listener.lines().includes('ck-1'), {
      timeout: 15_000,
      message: 'listener sees ck-1',
    });
    expect(listener.lines()[0]).toBe(leadership.key);
    await leadership.proclaim('ck-2');
    await waitFor(() => listener.lines().includes('ck-2'), { message: 'listener sees ck-2' });
    expect(listener.lines()).toEqual([leadership.key, 'ck-1', leadership.key, 'ck-2']);
  });

  it('a waiting etcdctl elect is elected once coordkit resigns', async () => {
    const name = `${uniquePrefix('elect-etcdctl-after')}election`;
    await using a = await contender();
    const leadership = await new Election(a.session, name).campaign('coordkit');
    const ctl = etcdctl(['elect', name, 'v2']);
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 2, {
      message: 'etcdctl queued',
    });
    expect(ctl.lines()).toEqual([]);
    await leadership.resign();
    await waitFor(() => ctl.lines().includes('v2'), { timeout: 15_000, message: 'etcdctl elected' });
    expect((await new Election(a.session, name).leader())?.value).toBe('v2');
    ctl.child.kill('SIGTERM');
    await ctl.exited;
    expect(await keysUnder(a.client, `${name}/`)).toEqual([]);
  });
});
