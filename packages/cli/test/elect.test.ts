import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import {
  isRunning,
  keysUnder,
  type Running,
  readText,
  scratchDir,
  sharedClient,
  startCoord,
  waitForFile,
} from './helpers.js';

/** A command that records its pid and `COORD_FENCING_TOKEN` in `file`, then runs until killed. */
function recordingCommand(file: string): string[] {
  return ['sh', '-c', `echo "$$ $COORD_FENCING_TOKEN $COORD_LEADER_KEY" > '${file}'; exec sleep 30`];
}

describe.concurrent('coord elect', () => {
  it('runs the command only while leader; SIGKILL of the leader lets the next candidate run after the TTL', async () => {
    using client = sharedClient();
    await using dir = await scratchDir();
    const name = `${uniquePrefix('cli-elect-failover')}election`;
    const fileA = join(dir.path, 'a');
    const fileB = join(dir.path, 'b');
    const a = startCoord(['--ttl', '1', 'elect', name, 'alpha', '--', ...recordingCommand(fileA)]);
    let b: Running | undefined;
    const pids: number[] = [];
    try {
      const [pidA, tokenA, keyA] = (await waitForFile(fileA, a, 'the first candidate to lead')).split(' ');
      pids.push(Number(pidA));
      const candidateB = startCoord(['--ttl', '1', 'elect', name, 'beta', '--', ...recordingCommand(fileB)]);
      b = candidateB;
      await waitFor(async () => (await keysUnder(client, `${name}/`)).length === 2, {
        timeout: 15_000,
        message: 'the second candidate to queue',
      });
      expect(await readText(fileB)).toBe('');
      // SIGKILL: coord cannot resign, so the leadership lapses only when etcd expires its lease.
      a.child.kill('SIGKILL');
      const killedAt = performance.now();
      const [pidB, tokenB, keyB] = (
        await waitForFile(fileB, candidateB, 'the second candidate to lead')
      ).split(' ');
      pids.push(Number(pidB));
      const elapsed = performance.now() - killedAt;
      expect(elapsed).toBeLessThan(10_000);
      expect(keyB).not.toBe(keyA);
      expect(BigInt(tokenB!)).toBeGreaterThan(BigInt(tokenA!));
      // The killed leader's key expired with its lease; the new leader's is the only one left.
      expect(await keysUnder(client, `${name}/`)).toEqual([keyB]);
      expect((await client.get(keyB!).string()) ?? '').toBe('beta');
    } finally {
      // A SIGKILLed coord cannot stop its child: the orphaned sleep is ours to clean up (first, as it
      // keeps coord's stdout pipe open).
      for (const pid of pids) if (pid > 0 && isRunning(pid)) process.kill(pid, 'SIGKILL');
      await a.stop();
      await b?.stop();
    }
  });

  it('exits with the command exit code and resigns', async () => {
    using client = sharedClient();
    const name = `${uniquePrefix('cli-elect-exit')}election`;
    const finished = await startCoord([
      'elect',
      name,
      'v1',
      '--',
      'sh',
      '-c',
      'echo "token=$COORD_FENCING_TOKEN"; exit 5',
    ]).exited;
    expect(finished.code).toBe(5);
    expect(finished.stdout).toMatch(/^token=[1-9]\d*$/m);
    expect(await keysUnder(client, `${name}/`)).toEqual([]);
  });

  it('--observe --json prints no leader, then each leader, then no leader again', async () => {
    await using dir = await scratchDir();
    const name = `${uniquePrefix('cli-elect-observe')}election`;
    const observer = startCoord(['elect', name, '--observe', '--json']);
    const lines = () =>
      observer
        .stdout()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as { value: string; fencingToken: string; key: string } | null);
    const gate = join(dir.path, 'gate');
    const tokenFile = join(dir.path, 'token');
    const leader = startCoord([
      'elect',
      name,
      'leader-1',
      '--',
      'sh',
      '-c',
      `echo "$COORD_FENCING_TOKEN $COORD_LEADER_KEY" > '${tokenFile}'; while [ ! -e '${gate}' ]; do sleep 0.02; done`,
    ]);
    try {
      const [token, key] = (
        await waitFor(async () => (await readText(tokenFile)).trim(), {
          timeout: 15_000,
          message: 'leader-1 elected',
        })
      ).split(' ');
      await waitFor(() => lines().some((l) => l?.value === 'leader-1'), {
        timeout: 15_000,
        message: 'the observer to print leader-1',
      });
      await writeFile(gate, '');
      expect((await leader.exited).code).toBe(0);
      await waitFor(() => lines().at(-1) === null && lines().length >= 2, {
        timeout: 15_000,
        message: 'the observer to print that the leader resigned',
      });
      const seen = lines();
      expect(seen.filter((l) => l !== null)).toEqual([
        expect.objectContaining({ value: 'leader-1', fencingToken: token, key }),
      ]);
      expect(seen.at(-1)).toBeNull();
      observer.child.kill('SIGINT');
      expect((await observer.exited).code).toBe(0);
    } finally {
      await leader.stop();
      await observer.stop();
    }
  });
});
