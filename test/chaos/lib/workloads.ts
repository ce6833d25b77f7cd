import { CasCounter } from '@coordkit/cas-counter';
import { readPrefix } from '@coordkit/core';
import { waitFor } from '@coordkit/testing';
import { checkCounter } from '../checkers/counter.js';
import { checkElection } from '../checkers/election.js';
import { killedProcesses } from '../checkers/fault-windows.js';
import type { FencedTruth } from '../checkers/fenced-writes.js';
import { checkLock } from '../checkers/lock.js';
import { checkQueue } from '../checkers/queue.js';
import { checkWatch, type WatchTruth } from '../checkers/watch.js';
import type { ClientSpec } from './client-process.js';
import { chaosNow, type HistoryOp, readHistoryFile, result } from './history.js';
import type { SettleContext, Workload } from './run-workload.js';

/** How long a workload may take to drain or catch up once every fault is healed. */
const SETTLE_TIMEOUT = 40_000;

const truthOp = (value: unknown): HistoryOp => ({
  process: 'checker',
  op: 'truth',
  time: chaosNow(),
  outcome: 'ok',
  value,
});

function clients(fixture: string, role: string, count: number, env?: ClientSpec['env']): ClientSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    role: `${role}${i + 1}`,
    fixture,
    env: (files, incarnation) => ({ CHAOS_ROLE: role, ...(env?.(files, incarnation) ?? {}) }),
  }));
}

async function stopRoles(context: SettleContext, role: string): Promise<void> {
  for (const [name, client] of context.clients) if (name.startsWith(role)) await client.stop();
}

/** Every guarded write key found under `<prefix>writes/`: the lock and election ground truth. */
async function fencedTruth(context: SettleContext): Promise<HistoryOp[]> {
  const { kvs } = await readPrefix(context.admin, `${context.prefix}writes/`, 'chaos: read writes');
  const writes: FencedTruth['writes'] = kvs.map((kv) => {
    const { token, process } = JSON.parse(kv.value.toString()) as { token: string; process: string };
    return {
      id: kv.key.slice(`${context.prefix}writes/`.length),
      token,
      process,
      revision: String(kv.createRevision),
    };
  });
  return [truthOp({ writes })];
}

export const lockWorkload: Workload = {
  name: 'lock',
  clients: clients('lock.mjs', 'lock', 3),
  async settle(context) {
    await stopRoles(context, 'lock');
    return fencedTruth(context);
  },
  check: checkLock,
};

export const electionWorkload: Workload = {
  name: 'election',
  clients: clients('election.mjs', 'candidate', 3),
  async settle(context) {
    await stopRoles(context, 'candidate');
    return fencedTruth(context);
  },
  check: checkElection,
};

export const queueWorkload: Workload = {
  name: 'queue',
  clients: [...clients('queue.mjs', 'producer', 1), ...clients('queue.mjs', 'consumer', 3)],
  async settle(context) {
    await stopRoles(context, 'producer');
    const jobs = `${context.prefix}queue/jobs/`;
    // Consumers drain what is left, including jobs whose consumer was killed (re-queued once its lease ends).
    await waitFor(async () => (await readPrefix(context.admin, jobs, 'chaos: read jobs')).kvs.length === 0, {
      timeout: SETTLE_TIMEOUT,
      interval: 200,
      message: 'the consumers to drain the queue',
    }).catch(() => undefined); // What stays is reported by the truth and judged by the checker.
    await stopRoles(context, 'consumer');
    const { kvs } = await readPrefix(context.admin, jobs, 'chaos: read jobs');
    return [truthOp({ remaining: kvs.map((kv) => kv.key.slice(jobs.length)) })];
  },
  check: checkQueue,
};

export const counterWorkload: Workload = {
  name: 'counter',
  clients: clients('counter.mjs', 'counter', 3),
  async settle(context) {
    await stopRoles(context, 'counter');
    const counter = new CasCounter(context.admin, `${context.prefix}counter`);
    const final = await counter.get();
    await counter.close();
    return [truthOp({ final: String(final) })];
  },
  check: checkCounter,
};

/** Where a restarted subscriber resumes: after the last message its earlier incarnations were given. */
function resumeFrom(files: readonly string[]): Record<string, string> {
  const ops = files.flatMap((file) => readHistoryFile(file));
  let from: bigint | undefined;
  for (const op of ops) {
    if (op.revision === undefined) continue;
    if (op.op === 'deliver') from = op.revision + 1n;
    if (op.op === 'subscribe' && from === undefined) from = op.revision;
    if (op.op === 'gap' && (from === undefined || op.revision > from)) from = op.revision;
  }
  return from === undefined ? {} : { CHAOS_FROM: String(from) };
}

async function waitUntilDelivered(context: SettleContext, role: string, revision: bigint): Promise<void> {
  await waitFor(
    () =>
      [...context.clients.entries()]
        .filter(([name]) => name.startsWith(role))
        .every(([, client]) =>
          client
            .history()
            .some(
              (op) =>
                op.revision !== undefined &&
                ((op.op === 'deliver' && op.revision >= revision) ||
                  (op.op === 'subscribe' && op.revision > revision)),
            ),
        ),
    { timeout: SETTLE_TIMEOUT, interval: 200, message: `every ${role} to receive revision ${revision}` },
  ).catch(() => undefined); // A subscriber that never caught up is reported by the checker (mustReach).
}

export const pubsubWorkload: Workload = {
  name: 'pubsub',
  clients: [
    ...clients('pubsub.mjs', 'publisher', 1),
    ...clients('pubsub.mjs', 'subscriber', 2, (files) => resumeFrom(files)),
  ],
  async settle(context) {
    await stopRoles(context, 'publisher');
    const messages = `${context.prefix}topic/msg/`;
    const { kvs } = await readPrefix(context.admin, messages, 'chaos: read messages');
    const byRevision = new Map<bigint, string[]>();
    for (const kv of kvs)
      byRevision.set(kv.createRevision, [...(byRevision.get(kv.createRevision) ?? []), kv.key]);
    const entries = [...byRevision].map(([revision, keys]) => ({
      revision: String(revision),
      keys: keys.sort(),
    }));
    const last = [...byRevision.keys()].reduce((a, b) => (a > b ? a : b), 0n);
    await waitUntilDelivered(context, 'subscriber', last);
    await stopRoles(context, 'subscriber');
    const truth: WatchTruth = { entries, mustReach: String(last) };
    return [truthOp(truth)];
  },
  check(history) {
    const check = checkWatch(history, { keyOrderWithinRevision: true });
    const truth = history.find((op) => op.op === 'truth')?.value as WatchTruth | undefined;
    const stored = new Map((truth?.entries ?? []).map((e) => [e.revision, e.keys]));
    const lost = history
      .filter((op) => op.op === 'publish' && op.outcome === 'ok')
      .filter((op) => {
        const keys = stored.get(String(op.revision));
        return !(op.value as { keys: string[] }).keys.every((key) => keys?.includes(key));
      })
      .map((op) => `pubsub: acknowledged publish at revision ${op.revision} by ${op.process} is not in etcd`);
    return result([...check.anomalies, ...lost]);
  },
};

export const configWorkload: Workload = {
  name: 'config',
  clients: [
    ...clients('config.mjs', 'writer', 1, (_files, incarnation) => ({
      CHAOS_START_N: String((incarnation - 1) * 100_000),
    })),
    ...clients('config.mjs', 'watcher', 2),
  ],
  async settle(context) {
    await stopRoles(context, 'writer');
    const sets = context.history().filter((op) => op.op === 'set');
    const keysOf = (op: HistoryOp) => {
      const { n } = op.value as { n: number };
      return [`a=${n}`, `b=${n}`];
    };
    const acknowledged = sets.filter((op) => op.outcome === 'ok' && op.revision !== undefined);
    const entries = acknowledged.map((op) => ({ revision: String(op.revision), keys: keysOf(op) }));
    const unknownKeys = sets.filter((op) => op.outcome === 'unknown').flatMap(keysOf);
    // A writer SIGKILLed mid-set never recorded that set, which may still have landed: its next n is unknown.
    for (const victim of killedProcesses(context.history())) {
      const incarnation = /^writer\d*#(\d+)$/.exec(victim)?.[1];
      if (incarnation === undefined) continue;
      const own = sets.filter((op) => op.process === victim).map((op) => (op.value as { n: number }).n);
      const next = Math.max((Number(incarnation) - 1) * 100_000, ...own) + 1;
      unknownKeys.push(`a=${next}`, `b=${next}`);
    }
    let last = 0n;
    for (const op of acknowledged) if (op.revision! > last) last = op.revision!;
    await waitUntilDelivered(context, 'watcher', last);
    await stopRoles(context, 'watcher');
    const truth: WatchTruth = { entries, unknownKeys, mustReach: String(last) };
    return [truthOp(truth)];
  },
  check(history) {
    const check = checkWatch(history, { gapsAcrossCompaction: true });
    // Atomicity as the application sees it: a and b are always written together, so every state a watcher
    // holds (its snapshot and each change) has a === b.
    const torn = history
      .filter((op) => (op.op === 'deliver' || op.op === 'subscribe') && op.value !== undefined)
      .filter((op) => {
        const state = (op.value as { state?: { a?: unknown; b?: unknown } }).state ?? {};
        return state.a !== state.b;
      })
      .map(
        (op) =>
          `config: ${op.process} held a torn config at revision ${op.revision}: ${JSON.stringify((op.value as { state: unknown }).state)}`,
      );
    return result([...check.anomalies, ...torn]);
  },
};

/** Every workload, in the order the suite runs them. */
export const workloads: readonly Workload[] = [
  lockWorkload,
  electionWorkload,
  queueWorkload,
  counterWorkload,
  pubsubWorkload,
  configWorkload,
];
