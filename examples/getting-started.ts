// A first lock, election and configuration on one session: the code of docs/getting-started.md.
// expect: config reloaded: pool.max is now 20
import { ConfigWatch } from '@coordkit/config-watch';
import { createClient, Session } from '@coordkit/core';
import { Election } from '@coordkit/election';
import { Mutex } from '@coordkit/lock';

const prefix = process.env.EXAMPLE_PREFIX ?? '/example/';
const client = createClient(); // endpoints from ETCD_ENDPOINTS, else 127.0.0.1:2379
{
  // One session = one lease, kept alive in the background, shared by every lock and election below.
  await using session = await Session.create(client, { ttl: 10 });

  // 1. A lock: waits its turn (FIFO), carries a fencing token, guards writes inside etcd.
  {
    await using lock = await new Mutex(session, `${prefix}locks/report`).lock({ timeout: 5_000 });
    const write = await lock
      .txn()
      .then(client.put(`${prefix}report`).value('done'))
      .commit();
    console.log(`lock held with fencing token ${lock.fencingToken}; fenced write landed: ${write.succeeded}`);
  } // released here (await using)

  // 2. An election: lead() campaigns, runs the function while leader, then resigns.
  const election = new Election(session, `${prefix}elections/scheduler`);
  await election.lead('worker-1', async (leadership) => {
    console.log(`elected with fencing token ${leadership.fencingToken}`);
    console.log('leader seen by anyone:', (await election.leader())?.value);
  });

  // 3. Configuration: one consistent snapshot, then every change, one etcd transaction at a time.
  //    (Pass `schema` (zod, valibot...) to validate and type it: see hot-reload-config.ts.)
  await using config = await ConfigWatch.open<{ pool: { max: number } }>(client, `${prefix}config/`, {
    defaults: { pool: { max: 10 } },
  });
  console.log('config:', config.value);
  const changes = config.changes()[Symbol.asyncIterator](); // changes made after this call
  await config.set({ 'pool/max': 20 }); // any writer: etcdctl put <prefix>config/pool/max 20
  const next = await changes.next();
  if (!next.done) console.log(`config reloaded: pool.max is now ${next.value.value.pool.max}`);
  await changes.return?.();
}
client.close();
