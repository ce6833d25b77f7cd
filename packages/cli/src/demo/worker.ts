// One demo worker process: campaigns for scheduler; the leader enqueues the jobs, the others
// process them, each under the lock of the resource it needs, counting results with the counter
// and following the hot-reloaded config.
import { CasCounter } from '@coordkit/cas-counter';
import { ConfigWatch } from '@coordkit/config-watch';
import { createClient, Session } from '@coordkit/core';
import { Election } from '@coordkit/election';
import { Mutex } from '@coordkit/lock';
import { Queue } from '@coordkit/queue';
import { demoKeys, RESOURCES, type WorkerEvent } from './protocol.js';

const worker = process.env.DEMO_WORKER ?? `worker-${process.pid}`;
const prefix = process.env.DEMO_PREFIX ?? '/coordkit-demo/';
const totalJobs = Number(process.env.DEMO_JOBS ?? 60);
const keys = demoKeys(prefix);
const report = (event: WorkerEvent) => process.stdout.write(`${JSON.stringify(event)}\n`);

interface DemoConfig {
  workDelayMs: number;
}
interface JobData {
  n: number;
  resource: string;
}

const client = createClient();
const session = await Session.create(client, { ttl: 2 });
const config = await ConfigWatch.open<DemoConfig>(client, keys.config, { defaults: { workDelayMs: 40 } });
const queue = new Queue<JobData>(session, keys.queue, { visibilityTimeout: 5_000 });
const counter = new CasCounter(client, keys.counter);
const stopping = new AbortController();
process.once('SIGTERM', () => stopping.abort());
report({ kind: 'ready', worker, pid: process.pid });

void (async () => {
  for await (const change of config.changes()) {
    report({
      kind: 'config',
      worker,
      workDelayMs: change.value.workDelayMs,
      revision: change.revision.toString(),
    });
  }
})();

async function handle(job: { id: string; data: JobData; attempt: number }): Promise<void> {
  const lock = await new Mutex(session, keys.resourceLock(job.data.resource)).lock({ timeout: 10_000 });
  try {
    // The owner register is written through the lock's fenced transaction: if this worker had lost the
    // lock (paused past its TTL), etcd itself would refuse the write.
    const write = await lock
      .txn()
      .then(client.put(keys.resourceOwner(job.data.resource)).value(`${worker}:${lock.fencingToken}`))
      .commit();
    if (!write.succeeded) report({ kind: 'fenced-write-rejected', worker, resource: job.data.resource });
    await new Promise((resolve) => setTimeout(resolve, config.value.workDelayMs));
    await counter.increment();
    report({
      kind: 'job',
      worker,
      job: job.id,
      resource: job.data.resource,
      token: lock.fencingToken.toString(),
      attempt: job.attempt,
    });
  } finally {
    await lock.release();
  }
}

async function schedule(election: Election): Promise<void> {
  const leadership = await election.campaign(worker, { signal: stopping.signal });
  report({ kind: 'elected', worker, token: leadership.fencingToken.toString() });
  const progress = await client.get(keys.progress).string();
  for (let n = Number(progress ?? 0); n < totalJobs && !leadership.signal.aborted; n++) {
    const id = `job-${String(n).padStart(3, '0')}`;
    await queue.enqueue({ n, resource: RESOURCES[n % RESOURCES.length]! }, { id });
    // Progress is fenced by the leadership, so a deposed scheduler cannot rewind it.
    await leadership
      .txn()
      .then(client.put(keys.progress).value(String(n + 1)))
      .commit();
    report({ kind: 'enqueued', worker, job: id });
    await new Promise((resolve) => setTimeout(resolve, 60));
  }
  await new Promise<void>((resolve) => {
    if (stopping.signal.aborted) resolve();
    stopping.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await leadership.resign();
}

const election = new Election(session, keys.election);
const processing = new AbortController();
stopping.signal.addEventListener('abort', () => processing.abort(), { once: true });
// Workers process jobs until elected; the scheduler only schedules (so killing it never interrupts a job).
const scheduling = schedule(election).catch((err: unknown) => {
  if (!stopping.signal.aborted) report({ kind: 'error', worker, message: String(err) });
});
const leaderWatch = (async () => {
  for await (const leader of election.observe({ signal: stopping.signal })) {
    if (leader?.value === worker) processing.abort();
  }
})().catch(() => undefined);
await queue.process(handle, { concurrency: 1, signal: processing.signal }).catch((err: unknown) => {
  report({ kind: 'error', worker, message: String(err) });
});
await scheduling;
await leaderWatch;
await config.close();
await counter.close();
await session.close();
client.close();
