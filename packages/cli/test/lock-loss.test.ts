import { join } from 'node:path';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import {
  etcdctl,
  isRunning,
  keysUnder,
  scratchDir,
  sharedClient,
  startCoord,
  waitForFile,
} from './helpers.js';

/**
 * Takes `coord --ttl 1 lock` around a long `sleep 30` whose pid the test learns, applies `takeAway` to
 * the lock key with etcdctl, and checks the sleep is terminated within ~2 s and coord exits 76.
 */
async function provesChildStoppedOnLoss(label: string, takeAway: (key: string) => string[]): Promise<void> {
  using client = sharedClient();
  await using dir = await scratchDir();
  const name = `${uniquePrefix(label)}lock`;
  const pidFile = join(dir.path, 'pid');
  // `exec` so that the pid written is the sleep itself, the process coord must stop.
  const holder = startCoord([
    '--ttl',
    '1',
    '--grace',
    '1000',
    'lock',
    name,
    '--',
    'sh',
    '-c',
    `echo $$ > '${pidFile}'; exec sleep 30`,
  ]);
  let pid = 0;
  try {
    pid = Number(await waitForFile(pidFile, holder, 'the command to start'));
    const [key] = await keysUnder(client, `${name}/`);
    expect(key).toMatch(new RegExp(`^${name}/[0-9a-f]+$`));
    const result = await etcdctl(takeAway(key!));
    expect(result.code).toBe(0);
    const takenAt = performance.now();
    await waitFor(() => !isRunning(pid), { timeout: 3_000, message: 'the command to be stopped' });
    expect(performance.now() - takenAt).toBeLessThan(2_500);
    const finished = await holder.exited;
    expect(finished.code).toBe(76);
    expect(finished.stderr).toMatch(/lock ".*" lost .*command stopped/);
    expect(await keysUnder(client, `${name}/`)).toEqual([]);
  } finally {
    await holder.stop();
    if (pid > 0 && isRunning(pid)) process.kill(pid, 'SIGKILL');
  }
}

describe.concurrent('coord lock when the lock is lost', () => {
  it('stops the command (SIGTERM) and exits 76 when an operator revokes its lease', async () => {
    // Lock keys are `<name>/<lease id in hex>` (etcd's Go concurrency layout), what `lease revoke` takes.
    await provesChildStoppedOnLoss('cli-loss-revoke', (key) => [
      'lease',
      'revoke',
      key.slice(key.lastIndexOf('/') + 1),
    ]);
  });

  it('stops the command and exits 76 when its key is deleted', async () => {
    await provesChildStoppedOnLoss('cli-loss-delete', (key) => ['del', key]);
  });
});
