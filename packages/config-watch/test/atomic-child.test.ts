import { idempotent, ops } from '@coordkit/core';
import { faultProxy, sharedEndpoints, startEtcd, uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { type ChildLine, spawnWatcher, testClient } from './helpers.js';

const ROUNDS = 200;
const KEYS = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`);

/**
 * Round `round` sets all 20 keys to `round` in one transaction. The compare on k00's previous value
 * makes a re-sent round (after a lost reply) a no-op, so each round lands exactly once.
 */
async function writeRound(
  client: ReturnType<typeof testClient>,
  prefix: string,
  round: number,
): Promise<void> {
  const first = `${prefix}${KEYS[0]}`;
  const response = await idempotent(`round ${round}`, () =>
    client.kv.txn({
      compare: [round === 1 ? ops.createRevisionIs(first, 0n) : ops.valueIs(first, String(round - 1))],
      success: KEYS.map((key) => ops.put(`${prefix}${key}`, String(round))),
      failure: [ops.get(first)],
    }),
  );
  if (response.succeeded) return;
  const current = response.responses[0]?.response_range?.kvs[0]?.value.toString();
  // An earlier attempt whose reply was lost already applied this round.
  if (current !== String(round)) throw new Error(`round ${round}: k00 is ${current}`);
}

/** Every round seen exactly once, in order, as one change carrying all 20 keys with the same value. */
function expectEveryRoundWhole(changes: ChildLine[]): void {
  expect(changes.length).toBe(ROUNDS);
  changes.forEach((change, index) => {
    expect(change.changed).toEqual(KEYS);
    expect(Object.keys(change.value ?? {}).sort()).toEqual(KEYS);
    for (const key of KEYS) expect(change.value?.[key]).toBe(index + 1);
  });
  const revisions = changes.map((change) => BigInt(change.revision!));
  for (let i = 1; i < revisions.length; i++) expect(revisions[i]! > revisions[i - 1]!).toBe(true);
}

describe('a watcher in another process', () => {
  it('sees each 20-key transaction as exactly one change while its connections are reset (F3)', async () => {
    const prefix = uniquePrefix('cfg-reset');
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    await using child = await spawnWatcher([proxy.endpoint], prefix);
    using client = testClient();
    for (let round = 1; round <= ROUNDS; round++) {
      await writeRound(client, prefix, round);
      if (round % 25 === 0) proxy.reset();
    }
    await waitFor(() => child.changes().at(-1)?.value?.k00 === ROUNDS, {
      timeout: 30_000,
      message: 'the child to see the last round',
    });
    expect(proxy.stats().totalConnections).toBeGreaterThan(1);
    expect(child.lines.filter((line) => line.error !== undefined || line.failed !== undefined)).toEqual([]);
    expectEveryRoundWhole(child.changes());
  });

  it('sees each 20-key transaction as exactly one change while members are killed in turn (F6)', async () => {
    const prefix = uniquePrefix('cfg-kill');
    await using cluster = await startEtcd({ nodes: 3 });
    await using child = await spawnWatcher(cluster.endpoints, prefix);
    using client = testClient(cluster.endpoints);
    // Every member dies once, so whichever member the child's watch stream uses dies under it.
    const faults = new Map<number, () => Promise<void>>([
      [30, () => cluster.kill(0)],
      [60, () => cluster.restart(0)],
      [90, () => cluster.kill(1)],
      [120, () => cluster.restart(1)],
      [150, () => cluster.kill(2)],
      [180, () => cluster.restart(2)],
    ]);
    for (let round = 1; round <= ROUNDS; round++) {
      await writeRound(client, prefix, round);
      await faults.get(round)?.();
    }
    await waitFor(() => child.changes().at(-1)?.value?.k00 === ROUNDS, {
      timeout: 30_000,
      message: 'the child to see the last round',
    });
    expect(child.lines.filter((line) => line.error !== undefined || line.failed !== undefined)).toEqual([]);
    expectEveryRoundWhole(child.changes());
  });
});
