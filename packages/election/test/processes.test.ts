import type { LeaderInfo } from '@coordkit/election';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type CandidateProcess, killAll, spawnCandidate } from './candidates.js';
import { assertMonotonic, contender, describeHistory, recordObserver } from './helpers.js';
import { currentRevision, electionHistory, type HistoryState, historyLeaderAt, putsOf } from './history.js';

/**
 * Fails unless every landed register write carries the token of the leader etcd's own history shows
 * at the write's revision (so no deposed leader's write landed), with tokens never decreasing.
 */
function assertWritesFenced(
  states: readonly HistoryState[],
  puts: ReadonlyArray<{ revision: bigint; value: string }>,
): void {
  let lastToken = 0n;
  for (const put of puts) {
    const token = BigInt(put.value);
    expect(token >= lastToken, `write at ${put.revision}: token ${token} after ${lastToken}`).toBe(true);
    expect(historyLeaderAt(states, put.revision)?.fencingToken, `leader at revision ${put.revision}`).toBe(
      token,
    );
    lastToken = token;
  }
}

/** Fails unless the observer reported exactly the leadership states etcd's history shows, in order. */
function assertObserverMatchesHistory(
  observed: ReadonlyArray<LeaderInfo | undefined>,
  states: readonly HistoryState[],
): void {
  expect(describeHistory(observed)).toEqual(
    states.map((state) => (state.leader ? `${state.leader.value}@${state.leader.fencingToken}` : '-')),
  );
  for (const [i, state] of states.entries()) {
    if (state.leader) expect(observed[i]?.revision).toBe(state.revision);
  }
}

function successfulWrites(candidate: CandidateProcess): number {
  return candidate.messages.filter((m) => m.type === 'write' && m.succeeded).length;
}

describe('Election across processes', () => {
  const running: CandidateProcess[] = [];
  afterEach(async () => {
    await killAll(running.splice(0));
  });

  it('5 candidate processes: one leader at a time, fenced writes only from the leader, kill -9 hands over after the TTL', async () => {
    const prefix = uniquePrefix('elect-procs');
    const name = `${prefix}election`;
    const register = `${prefix}register`;
    await using watcher = await contender();
    const observer = recordObserver(watcher.session, name);
    await waitFor(() => observer.history.length === 1, { message: 'observer started' });
    const startRevision = await currentRevision(watcher.client);
    const candidates = ['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => spawnCandidate(name, register, id, 2));
    running.push(...candidates);
    const byValue = new Map(candidates.map((c) => [c.id, c]));
    await waitFor(() => candidates.every((c) => c.messages.some((m) => m.type === 'ready')), {
      timeout: 30_000,
      message: 'every candidate ready',
    });

    // Four handovers: by resign, by kill -9 (the lease must expire), twice each.
    const handovers: Array<'resign' | 'kill'> = ['resign', 'kill', 'resign', 'kill'];
    const leaders: string[] = [];
    for (const how of [...handovers, 'resign' as const]) {
      const current = await waitFor(
        () => {
          const leader = observer.history.at(-1);
          return leader && !leaders.includes(leader.value) ? leader : undefined;
        },
        { timeout: 15_000, message: `leader #${leaders.length + 1}` },
      );
      leaders.push(current.value);
      const leaderProcess = byValue.get(current.value);
      if (!leaderProcess) throw new Error(`unknown leader ${current.value}`);
      await waitFor(() => successfulWrites(leaderProcess) >= 3, { message: `${current.value} writes` });
      if (how === 'resign') {
        leaderProcess.resign();
        expect(await leaderProcess.exited).toBe(0);
        expect(leaderProcess.messages.some((m) => m.type === 'resigned')).toBe(true);
      } else {
        const killedAt = performance.now();
        leaderProcess.child.kill('SIGKILL');
        await leaderProcess.exited;
        await waitFor(() => observer.history.at(-1)?.value !== current.value, {
          timeout: 10_000,
          message: 'handover after kill',
        });
        // Nobody deletes the key of a killed leader: it goes when its 2 s lease expires.
        expect(performance.now() - killedAt).toBeGreaterThan(1000);
      }
    }
    await waitFor(() => observer.history.length > 0 && observer.history.at(-1) === undefined, {
      message: 'no leader left',
    });
    await observer.stop();

    // The observer saw each of the five leaders once, in order, tokens strictly increasing, no revision twice.
    const observedLeaders = observer.history.filter((s): s is LeaderInfo => s !== undefined);
    expect(observedLeaders.map((s) => s.value)).toEqual(leaders);
    assertMonotonic(observer.history);
    for (let i = 1; i < observedLeaders.length; i++) {
      expect(observedLeaders[i]!.fencingToken > observedLeaders[i - 1]!.fencingToken).toBe(true);
    }
    // Each process's own view agrees: it was elected with the token the observer reports for it.
    for (const leader of observedLeaders) {
      const elected = byValue.get(leader.value)?.messages.find((m) => m.type === 'elected');
      expect(elected?.token).toBe(String(leader.fencingToken));
    }
    // Every write that landed came from the leader of its revision; none from a deposed one.
    const states = await electionHistory(watcher.client, `${name}/`, startRevision, 5);
    assertObserverMatchesHistory(observer.history, states);
    const puts = await putsOf(watcher.client, register, startRevision);
    expect(puts.length).toBeGreaterThanOrEqual(15);
    assertWritesFenced(states, puts);
  });

  it('a SIGSTOPped leader resumed after its TTL gets NOT_LEADER on proclaim and its fenced writes are rejected (F1, F16)', async () => {
    const prefix = uniquePrefix('elect-sigstop');
    const name = `${prefix}election`;
    const register = `${prefix}register`;
    await using watcher = await contender();
    const observer = recordObserver(watcher.session, name);
    await waitFor(() => observer.history.length === 1, { message: 'observer started' });
    const startRevision = await currentRevision(watcher.client);
    const paused = spawnCandidate(name, register, 'paused', 2);
    running.push(paused);
    await waitFor(() => observer.history.at(-1)?.value === 'paused', {
      timeout: 20_000,
      message: 'paused leads',
    });
    const successor = spawnCandidate(name, register, 'successor', 2);
    running.push(successor);
    await waitFor(() => successor.messages.some((m) => m.type === 'ready'), {
      timeout: 20_000,
      message: 'ready',
    });
    await waitFor(() => successfulWrites(paused) >= 3, { message: 'paused writes' });

    paused.child.kill('SIGSTOP');
    await waitFor(() => observer.history.at(-1)?.value === 'successor', {
      timeout: 10_000,
      message: 'successor elected while the old leader is paused',
    });
    await waitFor(() => successfulWrites(successor) >= 3, { message: 'successor writes' });
    paused.child.kill('SIGCONT');
    expect(await paused.exited).toBe(0);

    const deposed = paused.messages.find((m) => m.type === 'deposed');
    expect(deposed?.code).toMatch(/^(SESSION_EXPIRED|NOT_LEADER)$/);
    expect(paused.messages.find((m) => m.type === 'proclaim')?.code).toBe('NOT_LEADER');
    const lastWrites = paused.messages.filter((m) => m.type === 'write').slice(-3);
    expect(lastWrites).toHaveLength(3);
    for (const write of lastWrites) expect(write.succeeded).toBe(false);
    // The old leader's key was never rewritten by its late proclaim.
    expect(observer.history.some((s) => s?.value === 'paused-after-loss')).toBe(false);

    successor.resign();
    expect(await successor.exited).toBe(0);
    await waitFor(() => observer.history.at(-1) === undefined, { message: 'no leader left' });
    await observer.stop();
    assertMonotonic(observer.history);
    const states = await electionHistory(watcher.client, `${name}/`, startRevision, 2);
    assertObserverMatchesHistory(observer.history, states);
    const puts = await putsOf(watcher.client, register, startRevision);
    assertWritesFenced(states, puts);
    const successorToken = observer.history.find((s) => s?.value === 'successor')?.fencingToken;
    expect(puts.at(-1)?.value).toBe(String(successorToken));
  });
});
