import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import {
  coord,
  gatedCommand,
  keysUnder,
  parseTimeline,
  type Running,
  readText,
  scratchDir,
  sharedClient,
  startCoord,
  startEtcdctl,
} from './helpers.js';

type Starter = (name: string, command: string[]) => Running;
const viaCoord: Starter = (name, command) => startCoord(['lock', name, '--', ...command]);
const viaEtcdctl: Starter = (name, command) => startEtcdctl(['lock', name, '--', ...command]);

/**
 * Runs `first` until its command started, queues `second` behind it (its key is in etcd), checks the
 * second's command has not started, opens the gate, and checks from the commands' own timestamps
 * that the second started only after the first ended.
 */
async function provesExclusion(label: string, first: Starter, second: Starter): Promise<void> {
  using client = sharedClient();
  await using dir = await scratchDir();
  const name = `${uniquePrefix(label)}lock`;
  const log = join(dir.path, 'timeline');
  const gateA = join(dir.path, 'gate-a');
  const gateB = join(dir.path, 'gate-b');
  const a = first(name, gatedCommand('a', log, gateA));
  let running: Running | undefined;
  try {
    await waitFor(async () => (await readText(log)).includes('start a'), {
      timeout: 15_000,
      message: 'the first command to start',
    });
    running = second(name, gatedCommand('b', log, gateB));
    const b = running;
    await waitFor(async () => (await keysUnder(client, `${name}/`)).length === 2, {
      timeout: 15_000,
      message: 'the second locker to queue behind the first',
    });
    expect(await readText(log)).not.toContain('start b');
    await writeFile(gateB, '');
    await writeFile(gateA, '');
    const [doneA, doneB] = await Promise.all([a.exited, b.exited]);
    expect(doneA.code).toBe(0);
    expect(doneB.code).toBe(0);
    const timeline = parseTimeline(await readText(log));
    expect(timeline.map((e) => `${e.what} ${e.who}`)).toEqual(['start a', 'end a', 'start b', 'end b']);
    expect(timeline[2]!.at).toBeGreaterThanOrEqual(timeline[1]!.at);
    expect(await keysUnder(client, `${name}/`)).toEqual([]);
  } finally {
    await a.stop();
    await running?.stop();
  }
}

describe.concurrent('coord lock', () => {
  it('excludes a second coord lock on the same name until the first command exits', async () => {
    await provesExclusion('cli-lock-coord', viaCoord, viaCoord);
  });

  it('excludes etcdctl lock while it holds the lock', async () => {
    await provesExclusion('cli-lock-then-etcdctl', viaCoord, viaEtcdctl);
  });

  it('waits while etcdctl lock holds the lock', async () => {
    await provesExclusion('cli-etcdctl-then-lock', viaEtcdctl, viaCoord);
  });

  it('exports COORD_FENCING_TOKEN and COORD_LOCK_KEY and exits with the command exit code', async () => {
    const name = `${uniquePrefix('cli-lock-env')}lock`;
    const result = await coord([
      'lock',
      name,
      '--',
      'sh',
      '-c',
      'echo "token=$COORD_FENCING_TOKEN"; echo "key=$COORD_LOCK_KEY"; exit 7',
    ]);
    expect(result.code).toBe(7);
    const token = /^token=(.*)$/m.exec(result.stdout)?.[1];
    const key = /^key=(.*)$/m.exec(result.stdout)?.[1];
    expect(token).toMatch(/^[1-9]\d*$/);
    expect(key).toMatch(new RegExp(`^${name}/[0-9a-f]+$`));
    using client = sharedClient();
    expect(await keysUnder(client, `${name}/`)).toEqual([]);
  });

  it('a second lock holder gets a larger fencing token', async () => {
    const name = `${uniquePrefix('cli-lock-token')}lock`;
    const print = ['sh', '-c', 'echo $COORD_FENCING_TOKEN'];
    const first = await coord(['lock', name, '--', ...print]);
    const second = await coord(['lock', name, '--', ...print]);
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(BigInt(second.stdout.trim())).toBeGreaterThan(BigInt(first.stdout.trim()));
  });

  it('--timeout while another holds the lock exits 75 and leaves no key behind', async () => {
    using client = sharedClient();
    await using dir = await scratchDir();
    const name = `${uniquePrefix('cli-lock-timeout')}lock`;
    const log = join(dir.path, 'timeline');
    const gate = join(dir.path, 'gate');
    const holder = startCoord(['lock', name, '--', ...gatedCommand('holder', log, gate)]);
    try {
      await waitFor(async () => (await readText(log)).includes('start holder'), {
        timeout: 15_000,
        message: 'the holder to start',
      });
      const [holderKey] = await keysUnder(client, `${name}/`);
      const started = performance.now();
      const late = await coord(['--timeout', '300', 'lock', name, '--', 'sh', '-c', 'echo ran']);
      expect(late.code).toBe(75);
      expect(late.stdout).not.toContain('ran');
      expect(late.stderr).toContain('not acquired within 300 ms');
      expect(performance.now() - started).toBeLessThan(10_000);
      // The waiter's key is deleted on timeout: only the holder's remains.
      expect(await keysUnder(client, `${name}/`)).toEqual([holderKey]);
      await writeFile(gate, '');
      expect((await holder.exited).code).toBe(0);
    } finally {
      await holder.stop();
    }
  });

  it('without a command is a usage error (64)', async () => {
    const result = await coord(['lock', `${uniquePrefix('cli-lock-usage')}lock`]);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain('missing -- <command...>');
  });
});
