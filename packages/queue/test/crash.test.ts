import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Queue } from '@coordkit/queue';
import { sharedEndpoints, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { queueName, testSession } from './helpers.js';

const JOBS = 2_000;
const FAILING = 20;
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

interface Consumer {
  readonly tag: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  killedAt?: number;
}

function startConsumer(name: string, tag: string, lines: Line[]): Consumer {
  const child = spawn(process.execPath, [CONSUMER, sharedEndpoints().join(','), name, tag], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Line);
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
    const lines: Line[] = [];
    const consumers: Consumer[] = [];
    let spawned = 0;
    const spawnOne = () => consumers.push(startConsumer(name, `c${spawned++}`, lines));
    try {
      for (let i = 0; i < CONSUMERS; i++) spawnOne();
      // Kill a random live consumer at random points of progress, and start a replacement.
      const killAt = [0.1, 0.25, 0.4, 0.55, 0.7, 0.85].map((f) =>
        Math.floor(JOBS * (f + Math.random() * 0.05)),
      );
      for (const threshold of killAt) {
        await waitFor(() => lines.filter((l) => l.e === 'k').length >= threshold, {
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
    expect(lines.filter((l) => l.e === 'fatal' || l.e === 'err')).toEqual([]);
    // Every delivery's interval: from its start to its end (or to its consumer's kill).
    const intervals = new Map<string, { c: string; from: number; to: number }[]>();
    for (const start of lines.filter((l) => l.e === 's')) {
      const end = lines.find(
        (l) => (l.e === 'e' || l.e === 'f') && l.id === start.id && l.a === start.a && l.c === start.c,
      );
      const to = end?.t ?? killedAt.get(start.c);
      expect(to, `delivery ${start.id}#${start.a} to ${start.c} ended or was killed`).toBeDefined();
      const list = intervals.get(start.id!) ?? [];
      list.push({ c: start.c, from: start.t, to: to! });
      intervals.set(start.id!, list);
    }
    let duplicates = 0;
    for (let n = FAILING; n < JOBS; n++) {
      const id = `job-${n}`;
      const deliveries = (intervals.get(id) ?? []).sort((a, b) => a.from - b.from);
      // Done: its handler ran to the end at least once (and the queue no longer holds it).
      expect(
        lines.some((l) => l.e === 'e' && l.id === id),
        `${id} processed`,
      ).toBe(true);
      for (let i = 1; i < deliveries.length; i++) {
        const earlier = deliveries[i - 1]!;
        // A job goes to a second consumer only after the first one was killed: never overlapping.
        expect(killedAt.has(earlier.c), `${id} redelivered although ${earlier.c} lived`).toBe(true);
        expect(deliveries[i]!.from, `${id} overlapping deliveries`).toBeGreaterThanOrEqual(earlier.to);
      }
      duplicates += Math.max(0, deliveries.length - 1);
    }
    const dead = await queue.deadLetters();
    expect(new Set(dead.map((d) => d.id))).toEqual(failing);
    for (const letter of dead) expect(letter.lastError).toBe(`Error: boom ${letter.id}`);
    console.log(
      `F17: ${JOBS} jobs, ${killedAt.size} consumers killed, ${duplicates} redelivered after a kill`,
    );
  }, 120_000);
});
