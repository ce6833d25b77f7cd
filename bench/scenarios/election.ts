import { createClient, Session } from '@coordkit/core';
import { Election, type Leadership } from '@coordkit/election';
import { faultProxy } from '@coordkit/testing';
import { Etcd3, type Lease } from 'etcd3';
import { interleaved } from '../lib/interleave.ts';
import type { BenchContext, Result, Scenario } from '../lib/scenario.ts';
import { percentile } from '../lib/stats.ts';

const raw = (endpoints: readonly string[]) => new Etcd3({ hosts: [...endpoints] });

/** Resolves on the next put event of a given key seen by one raw prefix watcher (costs no unary RPC). */
async function keyPutWatcher(etcd3: Etcd3, prefix: string) {
  const waiting = new Map<string, () => void>();
  const w = await etcd3.watch().prefix(prefix).create();
  w.on('put', (kv) => {
    const key = kv.key.toString();
    waiting.get(key)?.();
    waiting.delete(key);
  });
  return {
    next: (key: string) => new Promise<void>((resolve) => waiting.set(key, resolve)),
    close: () => w.cancel(),
  };
}

/** Rejects a wait that never ends, so one broken run cannot hang the whole benchmark. */
function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no outcome within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const GRACEFUL = 'coordkit graceful failover (resign -> next campaign resolves)';
const PUT_TO_EVENT = 'baseline: etcd3 put-to-event';

/**
 * Graceful handoffs interleaved with raw put-to-event round trips, so both see the same machine.
 * A handoff is timed from `resign()` to the next candidate's `campaign` resolving; its set-up (the
 * follower's key in line, seen by a raw watcher) is not timed.
 */
async function gracefulFailover(ctx: BenchContext, handoffs: number): Promise<[Result, Result]> {
  const name = '/bench/elect/graceful';
  const candidates = await Promise.all(
    [0, 1].map(async () => {
      const client = createClient({ endpoints: [...ctx.endpoints] });
      const session = await Session.create(client, { ttl: 10 });
      return { client, session, election: new Election(session, name) };
    }),
  );
  const observer = raw(ctx.endpoints);
  const puts = await keyPutWatcher(observer, `${name}/`);
  const writer = raw(ctx.endpoints);
  const baselineKey = '/bench/elect/put-to-event';
  const baselinePuts = await keyPutWatcher(observer, baselineKey);
  let tokensIncreasing = 1;
  let turn = 0;
  try {
    let leader: Leadership = await candidates[0]!.election.campaign('0');
    const results = await interleaved(
      ctx,
      [
        {
          name: GRACEFUL,
          async op() {
            const next = candidates[++turn % 2]!;
            // The follower's key must be in line before the leader resigns, else this times a plain campaign.
            const queued = puts.next(next.election.key);
            const campaign = next.election.campaign(String(turn));
            await queued;
            const t = performance.now();
            await leader.resign();
            const elected = await campaign;
            const ms = performance.now() - t;
            if (elected.fencingToken <= leader.fencingToken) tokensIncreasing = 0;
            leader = elected;
            return ms;
          },
        },
        {
          name: PUT_TO_EVENT,
          async op(i) {
            const seen = baselinePuts.next(baselineKey);
            await writer.put(baselineKey).value(String(i));
            await seen;
          },
        },
      ],
      { ops: handoffs, warmup: 20 },
    );
    await leader.resign();
    const [graceful, baseline] = results as [Result, Result];
    const ratio = percentile(graceful.latenciesMs ?? [], 50) / percentile(baseline.latenciesMs ?? [], 50);
    return [
      {
        ...graceful,
        extra: { 'fencing tokens increasing': tokensIncreasing, 'p50 x raw put-to-event': ratio },
      },
      baseline,
    ];
  } finally {
    await puts.close();
    await baselinePuts.close();
    observer.close();
    writer.close();
    for (const c of candidates) {
      await c.session.close();
      c.client.close();
    }
  }
}

async function crashFailover(ctx: BenchContext, runs: number): Promise<Result> {
  const ttl = 1;
  const leaderClient = createClient({ endpoints: [...ctx.endpoints] });
  const candidateClient = createClient({ endpoints: [...ctx.endpoints] });
  const observer = raw(ctx.endpoints);
  const fromLastAck: number[] = [];
  try {
    return await ctx.measure(
      `coordkit crash failover, TTL ${ttl} s (orphan -> next elected)`,
      runs,
      async (lat) => {
        for (let i = 0; i < runs; i++) {
          const name = `/bench/elect/crash/${i}`;
          const puts = await keyPutWatcher(observer, `${name}/`);
          const leaderSession = await Session.create(leaderClient, { ttl });
          await new Election(leaderSession, name).campaign('crashing');
          const candidateSession = await Session.create(candidateClient, { ttl: 10 });
          const candidate = new Election(candidateSession, name);
          const queued = puts.next(candidate.key);
          const campaign = candidate.campaign('next');
          await queued;
          // Crash at a random point of the keepalive cycle (every TTL/3), not always just after an ack.
          await new Promise((r) => setTimeout(r, Math.random() * ((ttl * 1000) / 3)));
          // The crash: keepalive stops, nothing is revoked; the server expires the lease on its own.
          const lastAckSentAt = leaderSession.safeUntil - ttl * 1000;
          const t = performance.now();
          leaderSession.orphan();
          const elected = await deadline(campaign, 10_000, 'crash failover');
          const now = performance.now();
          lat.push(now - t);
          fromLastAck.push(now - lastAckSentAt);
          await elected.resign();
          await candidateSession.close();
          await puts.close();
        }
        return {
          'from last ack p50 ms': percentile(fromLastAck, 50),
          'from last ack p99 ms': percentile(fromLastAck, 99),
          'target ms (TTL + 600)': ttl * 1000 + 600,
        };
      },
    );
  } finally {
    observer.close();
    leaderClient.close();
    candidateClient.close();
  }
}

/** Deposed-leader notification under a blackhole: coordkit's leadership.signal. */
async function deposedOurs(ctx: BenchContext, runs: number): Promise<Result> {
  const ttl = 1;
  const fromBlackhole: number[] = [];
  return ctx.measure(`coordkit leadership.signal abort, TTL ${ttl} s, blackholed`, runs, async (lat) => {
    for (let i = 0; i < runs; i++) {
      await using proxy = await faultProxy(ctx.endpoints[0]!);
      const client = createClient({ endpoints: [proxy.endpoint] });
      try {
        const session = await Session.create(client, { ttl });
        const leadership = await new Election(session, `/bench/elect/deposed/${i}`).campaign('x');
        const lost = new Promise<number>((resolve) =>
          leadership.signal.addEventListener('abort', () => resolve(performance.now()), { once: true }),
        );
        // Let at least one keepalive round trip complete on the stream before cutting it.
        const firstAck = session.safeUntil;
        while (session.safeUntil === firstAck) await new Promise((r) => setTimeout(r, 20));
        const t = performance.now();
        proxy.blackhole();
        const abortedAt = await deadline(lost, 15_000, 'coordkit deposed leader');
        lat.push(abortedAt - (session.safeUntil - ttl * 1000));
        fromBlackhole.push(abortedAt - t);
        proxy.heal();
        await session.close();
      } finally {
        client.close();
      }
    }
    return { 'from blackhole p50 ms': percentile(fromBlackhole, 50), 'TTL ms': ttl * 1000 };
  });
}

/** The same for etcd3 1.1.2's `client.election(name, ttl).campaign()`: its lease's 'lost' event. */
async function deposedEtcd3(ctx: BenchContext, runs: number): Promise<Result> {
  const ttl = 1;
  const fromBlackhole: number[] = [];
  return ctx.measure(`etcd3 Campaign lease 'lost', TTL ${ttl} s, blackholed`, runs, async (lat) => {
    for (let i = 0; i < runs; i++) {
      await using proxy = await faultProxy(ctx.endpoints[0]!);
      const etcd3 = new Etcd3({ hosts: [proxy.endpoint] });
      try {
        const campaign = etcd3.election(`/bench/elect/deposed-etcd3/${i}`, ttl).campaign('x');
        campaign.on('error', () => undefined);
        // Private in the typings, but it is the lease whose 'lost' event etcd3 reports loss with.
        const lease = (campaign as unknown as { lease: Lease }).lease;
        const fired: number[] = [];
        let lastAckSentAt = Number.NaN;
        let acked: (() => void) | undefined;
        lease.on('keepaliveFired', () => fired.push(performance.now()));
        lease.on('keepaliveSucceeded', () => {
          lastAckSentAt = fired.shift() ?? lastAckSentAt;
          acked?.();
        });
        const lost = new Promise<number>((resolve) => lease.once('lost', () => resolve(performance.now())));
        await campaign.wait();
        await new Promise<void>((resolve) => (acked = resolve));
        const t = performance.now();
        proxy.blackhole();
        const lostAt = await deadline(lost, 15_000, 'etcd3 deposed leader');
        lat.push(lostAt - lastAckSentAt);
        fromBlackhole.push(lostAt - t);
        proxy.heal();
      } finally {
        etcd3.close();
      }
    }
    return { 'from blackhole p50 ms': percentile(fromBlackhole, 50), 'TTL ms': ttl * 1000 };
  });
}

export const electionFailover: Scenario = {
  name: 'election-failover',
  description:
    'Graceful failover: 2 candidates (own client + session each) hand leadership back and forth 300 times, resign -> next campaign resolves, interleaved in 10 alternating chunks with raw etcd3 put-to-event round trips (one writer, one watcher). Crash failover: the leader session (TTL 1 s) is orphaned (keepalive stops, no revoke), 10 runs, time until the waiting candidate is elected (also from the send time of the last acknowledged keepalive). Deposed leader: the leader connection is blackholed through a fault proxy, 5 runs each; latency from the send time of the last acknowledged keepalive to the loss notification (coordkit leadership.signal vs etcd3 Campaign lease "lost").',
  async run(ctx) {
    const [graceful, baseline] = await gracefulFailover(ctx, 300);
    const crash = await crashFailover(ctx, 10);
    const ours = await deposedOurs(ctx, 5);
    const theirs = await deposedEtcd3(ctx, 5);
    return [graceful, baseline, crash, ours, theirs];
  },
};
