import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Queue } from '@coordkit/queue';
import { sharedEndpoints, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { keysUnder, queueName, testSession } from './helpers.js';

const JOBS = 5_000;
const FAILING = 20;
const MAX_ATTEMPTS = 3;
const CONSUMERS = 4;
const CONSUMER = fileURLToPath(new URL('./fixtures/consumer.mjs', import.meta.url));

/** One line a consumer printed: `s` start, `e` end, `k` acked, `f` failing on purpose. */
interface Line {
  readonly e: string;
  readonly c: string;
  readonly t: number;
  readonly id?: string;
  readonly a?: number;
  readonly held?: boolean;
  readonly msg?: string;
}

/**
 * What the consumers reported, indexed as lines arrive so that neither the waits nor the checks
 * rescan every line (5,000 jobs print some 16,000 lines).
 */
class Log {
  acks = 0;
  readonly failures: Line[] = [];
  /** Start time of each delivery, by `id#attempt@consumer`. */
  readonly starts = new Map<string, Line>();
  /** End time of each delivery (handler returned or threw), by `id#attempt@consumer`. */
  readonly ends = new Map<string, number>();
  /** Jobs whose handler ran to the end at least once. */
  readonly processed = new Set<string>();

  add(line: Line): void {
    const delivery = `${line.id}#${line.a}@${line.c}`;
    if (line.e === 'k') this.acks++;
    else if (line.e === 's') this.starts.set(delivery, line);
    else if (line.e === 'e' || line.e === 'f') this.ends.set(delivery, line.t);
    else if (line.e === 'fatal' || line.e === 'err') this.failures.push(line);
    if (line.e === 'e') this.processed.add(line.id!);
  }
}

interface Consumer {
  readonly tag: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  killedAt?: number;
}

function startConsumer(name: string, tag: string, log: Log): Consumer {
  const child = spawn(
    process.execPath,
    [CONSUMER, sharedEndpoints().join(','), name, tag, String(MAX_ATTEMPTS)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      log.add(JSON.parse(line) as Line);
    } catch {
      // A line cut by SIGKILL.
    }
  });
  return { tag, child, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
}

describe('consumers killed mid-job (F17)', () => {
  it('loses no job, never gives one job to two live consumers at once, and dead-letters failing jobs', async () => {
    const name = queueName('q-f17');
    await using session = await testSession();
    await using queue = new Queue<{ n: number; fail?: boolean }>(session, name);
    const failing = new Set(Array.from({ length: FAILING }, (_, i) => `fail-${i}`));
    for (let start = 0; start < JOBS; start += 42) {
      await queue.enqueueBatch(
        Array.from({ length: Math.min(42, JOBS - start) }, (_, i) => {
          const n = start + i;
          return n < FAILING ? { data: { n, fail: true }, id: `fail-${n}` } : { data: { n }, id: `job-${n}` };
        }),
      );
    }
    expect((await queue.stats()).ready).toBe(JOBS);
    const log = new Log();
    const consumers: Consumer[] = [];
    let spawned = 0;
    const spawnOne = () => consumers.push(startConsumer(name, `c${spawned++}`, log));
    try {
      for (let i = 0; i < CONSUMERS; i++) spawnOne();
      // Kill a random live consumer at random points of progress, and start a replacement.
      const killAt = [0.1, 0.25, 0.4, 0.55, 0.7, 0.85].map((f) =>
        Math.floor(JOBS * (f + Math.random() * 0.05)),
      );
      for (const threshold of killAt) {
        await waitFor(() => log.acks >= threshold, {
          timeout: 60_000,
          interval: 5,
          message: `${threshold} acks`,
        });
        const live = consumers.filter((c) => c.killedAt === undefined);
        const victim = live[Math.floor(Math.random() * live.length)]!;
        victim.killedAt = Date.now();
        victim.child.kill('SIGKILL');
        spawnOne();
      }
      await waitFor(
        async () => {
          const stats = await queue.stats();
          return stats.ready + stats.delayed + stats.inflight === 0 && stats.dead === FAILING;
        },
        { timeout: 60_000, interval: 200, message: 'every job acked or dead' },
      );
    } finally {
      for (const consumer of consumers) consumer.child.stdin?.end();
      const stopping = Promise.all(consumers.map((c) => c.exited));
      const timer = setTimeout(() => {
        for (const c of consumers) c.child.kill('SIGKILL');
      }, 5_000);
      await stopping;
      clearTimeout(timer);
    }

    const killedAt = new Map(consumers.filter((c) => c.killedAt).map((c) => [c.tag, c.killedAt!]));
    expect(log.failures).toEqual([]);
    // Every delivery's interval: from its start to its end (or to its consumer's kill).
    const intervals = new Map<string, { c: string; from: number; to: number }[]>();
    for (const [delivery, start] of log.starts) {
      const to = log.ends.get(delivery) ?? killedAt.get(start.c);
      expect(to, `delivery ${delivery} ended or was killed`).toBeDefined();
      const list = intervals.get(start.id!) ?? [];
      list.push({ c: start.c, from: start.t, to: to! });
      intervals.set(start.id!, list);
    }
    let duplicates = 0;
    const unprocessed: string[] = [];
    for (let n = FAILING; n < JOBS; n++) {
      const id = `job-${n}`;
      // Done: its handler ran to the end at least once (and the queue no longer holds it).
      if (!log.processed.has(id)) unprocessed.push(id);
      const deliveries = (intervals.get(id) ?? []).sort((a, b) => a.from - b.from);
      for (let i = 1; i < deliveries.length; i++) {
        const earlier = deliveries[i - 1]!;
        // A job goes to a second consumer only after the first one was killed: never overlapping.
        expect(killedAt.has(earlier.c), `${id} redelivered although ${earlier.c} lived`).toBe(true);
        expect(deliveries[i]!.from, `${id} overlapping deliveries`).toBeGreaterThanOrEqual(earlier.to);
      }
      duplicates += Math.max(0, deliveries.length - 1);
    }
    expect(unprocessed).toEqual([]);
    // None lost: the only job records left are the dead letters' (ack deletes a job's record).
    const records = Object.keys(await keysUnder(session.client, `${name}/jobs/`));
    expect(new Set(records.map((key) => key.slice(`${name}/jobs/`.length)))).toEqual(failing);
    const dead = await queue.deadLetters();
    expect(new Set(dead.map((d) => d.id))).toEqual(failing);
    for (const letter of dead) {
      expect(letter.lastError).toBe(`Error: boom ${letter.id}`);
      expect(letter.attempt).toBe(MAX_ATTEMPTS);
    }
    // Every failing job was delivered exactly maxAttempts times, and failed each time.
    for (const id of failing) {
      const deliveries = intervals.get(id) ?? [];
      expect(deliveries.length, `${id} deliveries`).toBe(MAX_ATTEMPTS);
    }
    console.log(
      `F17: ${JOBS} jobs, ${killedAt.size} consumers killed, ${duplicates} redelivered after a kill`,
    );
  }, 120_000);
});
