import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { uniquePrefix } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { coord, scratchDir, startCoord, waitForFile } from './helpers.js';

interface StatusJson {
  held: Array<{
    name: string;
    kind: string;
    holder: { key: string; value: string; fencingToken: string };
    waiting: number;
  }>;
  queues: Array<{ name: string; ready: number }>;
  counters: Array<{ name: string; value: string }>;
}

/** A gated command that writes `token key` to `file` and runs until `gate` exists. */
function holdUntil(file: string, gate: string, tokenVariable: string, keyVariable: string): string[] {
  return [
    'sh',
    '-c',
    `echo "$${tokenVariable} $${keyVariable}" > '${file}'; while [ ! -e '${gate}' ]; do sleep 0.02; done`,
  ];
}

describe('coord status', () => {
  it('shows the lock holders and election leaders that exist, with their fencing tokens', async () => {
    await using dir = await scratchDir();
    const prefix = uniquePrefix('cli-status');
    const lockName = `${prefix}jobs-lock`;
    const electionName = `${prefix}scheduler`;
    const gate = join(dir.path, 'gate');
    const lockFile = join(dir.path, 'lock');
    const leaderFile = join(dir.path, 'leader');
    const holder = startCoord([
      'lock',
      lockName,
      '--',
      ...holdUntil(lockFile, gate, 'COORD_FENCING_TOKEN', 'COORD_LOCK_KEY'),
    ]);
    const leader = startCoord([
      'elect',
      electionName,
      'node-7',
      '--',
      ...holdUntil(leaderFile, gate, 'COORD_FENCING_TOKEN', 'COORD_LEADER_KEY'),
    ]);
    try {
      const [lockToken, lockKey] = (await waitForFile(lockFile, holder, 'lock held')).split(' ');
      const [leaderToken, leaderKey] = (await waitForFile(leaderFile, leader, 'leader elected')).split(' ');
      // Seed a counter and a queue under the same prefix so that every section has something.
      expect((await coord(['counter', 'add', `${prefix}hits`, '3'])).code).toBe(0);
      expect((await coord(['queue', 'push', `${prefix}work`, 'x'])).code).toBe(0);

      const human = await coord(['status', '--prefix', prefix]);
      expect(human.code).toBe(0);
      const lockRow = human.stdout.split('\n').find((line) => line.startsWith(`${lockName} `));
      expect(lockRow?.split(/\s+/)).toEqual([lockName, expect.stringMatching(/^\d+$/), lockToken, '0']);
      const electionRow = human.stdout.split('\n').find((line) => line.startsWith(`${electionName} `));
      expect(electionRow?.split(/\s+/)).toEqual([electionName, 'node-7', leaderToken, '0']);

      const json = await coord(['status', '--prefix', prefix, '--json']);
      expect(json.code).toBe(0);
      const report = JSON.parse(json.stdout) as StatusJson;
      expect(report.held).toEqual(
        [
          {
            name: lockName,
            kind: 'lock',
            holder: expect.objectContaining({ key: lockKey, value: '', fencingToken: lockToken }),
            waiting: 0,
          },
          {
            name: electionName,
            kind: 'election',
            holder: expect.objectContaining({ key: leaderKey, value: 'node-7', fencingToken: leaderToken }),
            waiting: 0,
          },
        ].sort((a, b) => a.name.localeCompare(b.name)),
      );
      expect(report.counters).toEqual([{ name: `${prefix}hits`, value: '3' }]);
      expect(report.queues).toEqual([expect.objectContaining({ name: `${prefix}work`, ready: 1 })]);

      await writeFile(gate, '');
      expect((await holder.exited).code).toBe(0);
      expect((await leader.exited).code).toBe(0);
      const after = JSON.parse((await coord(['status', '--prefix', prefix, '--json'])).stdout) as StatusJson;
      expect(after.held).toEqual([]);
    } finally {
      await writeFile(gate, '').catch(() => undefined);
      await holder.stop();
      await leader.stop();
    }
  });
});
