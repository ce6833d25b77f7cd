// Job workers that run a job only while holding a lock, and write its result fenced by the lock.
// expect: stale write from worker-1 landed: false
import { createClient, Session } from '@coordkit/core';
import { Mutex } from '@coordkit/lock';

const prefix = process.env.EXAMPLE_PREFIX ?? '/example/';
const lockName = `${prefix}locks/nightly-report`;
const resultKey = `${prefix}reports/nightly`;
const client = createClient(); // ETCD_ENDPOINTS or 127.0.0.1:2379

// Each worker has its own session (one lease), as separate processes would.
async function runWorker(name: string): Promise<void> {
  await using session = await Session.create(client, { ttl: 5 });
  const mutex = new Mutex(session, lockName);
  // withLock waits its turn (FIFO), runs the job, and always releases.
  await mutex.withLock(
    async (lock) => {
      console.log(`${name} holds the lock, fencing token ${lock.fencingToken}`);
      // The write carries the ownership compare: it cannot land once this lock is lost.
      const { succeeded } = await lock
        .txn()
        .then(client.put(resultKey).value(`${name} (token ${lock.fencingToken})`))
        .commit();
      if (!succeeded) throw lock.signal.reason ?? new Error('lock lost before the write');
    },
    { timeout: 5_000 },
  );
}

await Promise.all([runWorker('worker-1'), runWorker('worker-2')]);
console.log('result:', await client.get(resultKey).string());

// Fencing: a holder that lost the lock (here: released it; in production: paused past its TTL)
// cannot overwrite the work of the holder after it.
{
  await using sessionA = await Session.create(client, { ttl: 5 });
  await using sessionB = await Session.create(client, { ttl: 5 });
  const stale = await new Mutex(sessionA, lockName).lock({ timeout: 5_000 });
  await stale.release();
  await using current = await new Mutex(sessionB, lockName).lock({ timeout: 5_000 });
  console.log(`worker-2 token ${current.fencingToken} > worker-1 token ${stale.fencingToken}`);
  const late = await stale.txn().then(client.put(resultKey).value('worker-1 (stale)')).commit();
  console.log(`stale write from worker-1 landed: ${late.succeeded}`);
  console.log('isHeld:', stale.isHeld(), current.isHeld(), '| result:', await client.get(resultKey).string());
}
client.close();
