import { Topic } from '@coordkit/pubsub';
import { faultProxy, sharedEndpoints, startEtcd, uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { type Child, spawnFixture, testClient, waitForLine } from './helpers.js';

const PUBLISHERS = 3;

/** Parses `m <revision> <index> <publisher> <seq>` lines. */
function messagesOf(child: Child) {
  return child.lines
    .filter((line) => line.startsWith('m '))
    .map((line) => {
      const [, revision, index, p, s] = line.split(' ');
      return { revision: BigInt(revision!), index: Number(index), p: Number(p), s: Number(s) };
    });
}

/** Every subscriber got exactly the published revisions, in order, each publisher's messages in sequence. */
function expectExactlyOnceInOrder(subscriber: Child, published: readonly bigint[][], perPublisher: number) {
  const seen = messagesOf(subscriber);
  expect(subscriber.lines.filter((line) => line.startsWith('failed'))).toEqual([]);
  const expected = published.flat().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  expect(seen.length).toBe(expected.length);
  // One message per revision here, so revision order must be strictly increasing: no duplicate, no reorder.
  expect(seen.every((m, i) => i === 0 || m.revision > seen[i - 1]!.revision)).toBe(true);
  expect(seen.map((m) => m.revision)).toEqual(expected);
  for (let p = 0; p < published.length; p++) {
    const mine = seen.filter((m) => m.p === p);
    expect(mine.map((m) => m.s)).toEqual(Array.from({ length: perPublisher }, (_, s) => s));
  }
}

async function runPublishers(
  endpoints: readonly string[],
  topic: string,
  count: number,
): Promise<bigint[][]> {
  const publishers = Array.from({ length: PUBLISHERS }, (_, p) =>
    spawnFixture('publisher.mjs', [endpoints.join(','), topic, String(p), String(count)]),
  );
  try {
    return await Promise.all(
      publishers.map(async (publisher) => {
        const line = await waitForLine(publisher, 'done', 120_000);
        return line.slice('done '.length).split(',').map(BigInt);
      }),
    );
  } finally {
    await Promise.all(publishers.map((publisher) => publisher[Symbol.asyncDispose]()));
  }
}

describe('publishers and subscribers in separate processes', () => {
  it('5 subscribers get 3 x 3000 messages exactly once in order while their connections are reset (F3)', async () => {
    const topic = `${uniquePrefix('pubsub-procs')}topic`;
    const count = 3000;
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const subscribers = Array.from({ length: 5 }, () =>
      spawnFixture('subscriber.mjs', [proxy.endpoint, topic]),
    );
    try {
      await Promise.all(subscribers.map((s) => waitForLine(s, 'ready')));
      const publishing = runPublishers(sharedEndpoints(), topic, count);
      let publishFailure: unknown;
      publishing.catch((err: unknown) => (publishFailure = err));
      const progress = () => Math.min(...subscribers.map((s) => messagesOf(s).length));
      // Reset every subscriber connection each time they have all caught up 500 messages further.
      let resets = 0;
      while (resets < 6 && progress() < PUBLISHERS * count - 500) {
        const before = progress();
        await waitFor(
          () => {
            if (publishFailure) throw publishFailure;
            return progress() >= before + 500;
          },
          { timeout: 60_000, interval: 50, message: 'subscribers to make progress' },
        );
        proxy.reset();
        resets++;
      }
      const published = await publishing;
      expect(resets).toBeGreaterThanOrEqual(3);
      await waitFor(() => subscribers.every((s) => messagesOf(s).length >= PUBLISHERS * count), {
        timeout: 60_000,
        interval: 100,
        message: 'every subscriber to receive every message',
      });
      expect(proxy.stats().totalConnections).toBeGreaterThan(5 + resets);
      for (const subscriber of subscribers) expectExactlyOnceInOrder(subscriber, published, count);
    } finally {
      await Promise.all(subscribers.map((s) => s[Symbol.asyncDispose]()));
    }
  }, 120_000);

  it('subscribers get every message exactly once in order while a member of 3 is killed (F6)', async () => {
    await using cluster = await startEtcd({ nodes: 3 });
    const topic = `${uniquePrefix('pubsub-kill')}topic`;
    const count = 1000;
    const subscribers = Array.from({ length: 3 }, () =>
      spawnFixture('subscriber.mjs', [cluster.endpoints.join(','), topic]),
    );
    try {
      await Promise.all(subscribers.map((s) => waitForLine(s, 'ready')));
      const publishing = runPublishers(cluster.endpoints, topic, count);
      await waitFor(() => subscribers.every((s) => messagesOf(s).length >= 200), {
        timeout: 60_000,
        interval: 50,
      });
      // Each client talks to a member of its choosing: killing every member in turn makes each lose its own.
      for (const member of [0, 1, 2]) {
        await cluster.kill(member);
        const before = Math.min(...subscribers.map((s) => messagesOf(s).length));
        await waitFor(
          () =>
            Math.min(...subscribers.map((s) => messagesOf(s).length)) >=
            Math.min(before + 200, PUBLISHERS * count),
          {
            timeout: 60_000,
            interval: 50,
            message: 'subscribers to make progress with a member down',
          },
        );
        await cluster.restart(member);
      }
      const published = await publishing;
      await waitFor(() => subscribers.every((s) => messagesOf(s).length >= PUBLISHERS * count), {
        timeout: 60_000,
        interval: 100,
        message: 'every subscriber to receive every message',
      });
      for (const subscriber of subscribers) expectExactlyOnceInOrder(subscriber, published, count);
    } finally {
      await Promise.all(subscribers.map((s) => s[Symbol.asyncDispose]()));
    }
  }, 120_000);

  it('a durable group resumes after its subscriber is SIGKILLed, losing nothing (at-least-once)', async () => {
    const topic = `${uniquePrefix('pubsub-crash')}topic`;
    using client = testClient();
    const publisher = new Topic<{ p: number; s: number }>(client, topic);
    for (let s = 0; s < 600; s += 100) {
      await publisher.publishBatch(Array.from({ length: 100 }, (_, i) => ({ p: 0, s: s + i })));
    }
    const seqs = (child: Child) => messagesOf(child).map((m) => m.s);
    const first = spawnFixture('subscriber.mjs', [sharedEndpoints().join(','), topic, 'g', '2']);
    try {
      await waitFor(() => seqs(first).length >= 250, {
        timeout: 20_000,
        message: 'the first subscriber to get going',
      });
      first.process.kill('SIGKILL');
      await first.exited;
    } finally {
      await first[Symbol.asyncDispose]();
    }
    const before = seqs(first);
    expect(before.length).toBeLessThan(600);
    expect(before).toEqual(Array.from({ length: before.length }, (_, s) => s));
    await using second = spawnFixture('subscriber.mjs', [sharedEndpoints().join(','), topic, 'g']);
    await waitFor(() => seqs(second).at(-1) === 599, {
      timeout: 20_000,
      message: 'the second subscriber to finish',
    });
    const after = seqs(second);
    // Resumes at or before where the first stopped (redelivery since the last commit), never after it.
    expect(after[0]!).toBeLessThanOrEqual(before.length);
    expect(after).toEqual(Array.from({ length: 600 - after[0]! }, (_, i) => after[0]! + i));
  });
});
