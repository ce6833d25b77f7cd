// `pnpm demo`: a throwaway etcd, three worker processes, a leader killed mid-run, and a checked summary.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CasCounter } from '@coordkit/cas-counter';
import { createClient, monotonicNow, Session } from '@coordkit/core';
import { Election, type LeaderInfo } from '@coordkit/election';
import { startEtcd } from '@coordkit/testing';
import { type Check, keyHistory, tokensIncrease } from './checks.js';
import { demoKeys, RESOURCES, type WorkerEvent } from './protocol.js';

const TOTAL_JOBS = 60;
const PREFIX = '/coordkit-demo/';
const keys = demoKeys(PREFIX);
const started = monotonicNow();
const say = (line: string) =>
  console.log(`[${((monotonicNow() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);

say('starting a throwaway etcd (own ports, data on tmpfs)...');
await using etcd = await startEtcd({ nodes: 1 });
process.env.ETCD_ENDPOINTS = etcd.endpoints.join(',');
const client = createClient({ endpoints: [...etcd.endpoints] });
await client.put(`${keys.config}workDelayMs`).value('40');

const workers = new Map<string, ChildProcess>();
const done = new Map<string, string[]>(); // job -> workers that completed it
const leaders: LeaderInfo[] = [];
let enqueued = 0;
let rejectedWrites = 0;
let killedLeader: string | undefined;
let killedAt = 0;

function onEvent(event: WorkerEvent): void {
  switch (event.kind) {
    case 'ready':
      say(`${event.worker} up (pid ${event.pid})`);
      break;
    case 'elected':
      say(
        `${event.worker} elected scheduler (fencing token ${event.token})${killedAt ? `, ${((monotonicNow() - killedAt) / 1000).toFixed(1)}s after the kill` : ''}`,
      );
      break;
    case 'enqueued':
      enqueued++;
      break;
    case 'job': {
      const by = done.get(event.job) ?? [];
      by.push(event.worker);
      done.set(event.job, by);
      say(
        `${event.worker} did ${event.job} holding ${event.resource} (token ${event.token})${event.attempt > 1 ? ` attempt ${event.attempt}` : ''} [${done.size}/${TOTAL_JOBS}]`,
      );
      break;
    }
    case 'fenced-write-rejected':
      rejectedWrites++;
      say(`${event.worker}: fenced write on ${event.resource} rejected (lock lost)`);
      break;
    case 'config':
      say(`${event.worker} reloaded config: workDelayMs=${event.workDelayMs} (revision ${event.revision})`);
      break;
    case 'error':
      say(`${event.worker} error: ${event.message}`);
      break;
  }
}

const workerScript = fileURLToPath(new URL('./worker.js', import.meta.url));
for (const name of ['worker-1', 'worker-2', 'worker-3']) {
  const child = spawn(process.execPath, [workerScript], {
    env: { ...process.env, DEMO_WORKER: name, DEMO_PREFIX: PREFIX, DEMO_JOBS: String(TOTAL_JOBS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  workers.set(name, child);
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      onEvent(JSON.parse(line) as WorkerEvent);
    } catch {
      say(`${name}: ${line}`);
    }
  });
}

// Observe the election from here too: the history of leaders, as etcd ordered it.
const observerSession = await Session.create(client, { ttl: 5 });
const observing = new AbortController();
const observer = (async () => {
  for await (const leader of new Election(observerSession, keys.election).observe({
    signal: observing.signal,
  })) {
    if (leader && leaders.at(-1)?.key !== leader.key) leaders.push(leader);
  }
})().catch(() => undefined);

const waitUntil = async (cond: () => boolean, timeoutMs: number, what: string) => {
  const deadline = monotonicNow() + timeoutMs;
  while (!cond()) {
    if (monotonicNow() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

let failure: unknown;
try {
  await waitUntil(() => done.size >= TOTAL_JOBS / 4, 30_000, 'the first jobs');
  say('changing config: workDelayMs 40 -> 15 (hot reload, no restart)');
  await client.put(`${keys.config}workDelayMs`).value('15');
  await waitUntil(() => enqueued >= TOTAL_JOBS / 2, 30_000, 'half of the jobs to be enqueued');
  const leader = leaders.at(-1);
  const victim = leader ? workers.get(leader.value) : undefined;
  if (leader && victim) {
    killedLeader = leader.value;
    killedAt = monotonicNow();
    say(`kill -9 the scheduler ${leader.value} (pid ${victim.pid}) to show failover (session TTL 2 s)`);
    victim.kill('SIGKILL');
  }
  await waitUntil(() => done.size >= TOTAL_JOBS, 45_000, 'every job to be done');
} catch (err) {
  failure = err;
}

for (const child of workers.values()) child.kill('SIGTERM');
await Promise.all(
  [...workers.values()].map(
    (child) =>
      new Promise((resolve) =>
        child.exitCode !== null || child.signalCode !== null
          ? resolve(undefined)
          : child.once('exit', resolve),
      ),
  ),
);
observing.abort();
await observer;
await observerSession.close();

const counter = await new CasCounter(client, keys.counter).get();
const duplicates = [...done.values()].filter((by) => by.length > 1).length;
const allJobs = Array.from({ length: TOTAL_JOBS }, (_, n) => `job-${String(n).padStart(3, '0')}`);
const lost = allJobs.filter((job) => !done.has(job));
const ownerHistories = await Promise.all(RESOURCES.map((r) => keyHistory(client, keys.resourceOwner(r))));
const leaderTokens = leaders.map((l) => `${l.value}:${l.fencingToken}`);
const checks: Check[] = [
  {
    name: 'no job lost',
    ok: lost.length === 0,
    detail: lost.length ? `missing ${lost.join(', ')}` : `${TOTAL_JOBS}/${TOTAL_JOBS} jobs done`,
  },
  {
    name: 'no two holders of a lock at once',
    ok: ownerHistories.every(tokensIncrease) && rejectedWrites === 0,
    detail: `${ownerHistories.reduce((n, h) => n + h.length, 0)} fenced writes, tokens strictly increasing per resource in etcd's history`,
  },
  {
    name: 'one leader at a time',
    ok: tokensIncrease(leaderTokens) && leaders.length >= 2 && leaders[0]?.value === killedLeader,
    detail: `leaders in order: ${leaderTokens.join(' -> ')}`,
  },
  {
    name: 'counter exact',
    ok: counter === BigInt(TOTAL_JOBS) && duplicates === 0,
    detail: `counter ${counter}, ${duplicates} jobs done twice`,
  },
];
if (failure) checks.unshift({ name: 'demo ran to the end', ok: false, detail: String(failure) });
console.log('\nsummary');
for (const check of checks) console.log(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`);
client.close();
const ok = checks.every((c) => c.ok);
console.log(ok ? '\ndemo passed: every check holds' : '\ndemo FAILED');
process.exitCode = ok ? 0 : 1;
