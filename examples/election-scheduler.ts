// A scheduler that must run on exactly one process: two candidates, and resign hands over at once.
// expect: scheduler-b is leader now
import { createClient, Session } from '@coordkit/core';
import { Election } from '@coordkit/election';

const prefix = process.env.EXAMPLE_PREFIX ?? '/example/';
const electionName = `${prefix}elections/scheduler`;
const scheduleKey = `${prefix}schedule/next-run`;
const client = createClient();
{
  // Two candidates with separate sessions (leases), as two processes would have.
  await using sessionA = await Session.create(client, { ttl: 5 });
  await using sessionB = await Session.create(client, { ttl: 5 });
  const candidateA = new Election(sessionA, electionName);
  const candidateB = new Election(sessionB, electionName);

  // An observer (any process, no campaign needed) sees every leader change in order.
  const seen: string[] = [];
  const observing = (async () => {
    for await (const leader of candidateA.observe()) {
      seen.push(leader?.value ?? '(none)');
      if (seen.includes('scheduler-b') && leader === undefined) break; // leaving the loop stops the watch
    }
  })();

  const leaderA = await candidateA.campaign('scheduler-a', { timeout: 5_000 });
  console.log(`scheduler-a elected, fencing token ${leaderA.fencingToken}`);
  const campaignB = candidateB.campaign('scheduler-b', { timeout: 5_000 }); // waits behind scheduler-a

  // Scheduling decisions are fenced: they land only while this candidate leads.
  const tick = await leaderA.txn().then(client.put(scheduleKey).value('by scheduler-a')).commit();
  console.log('scheduler-a wrote the schedule:', tick.succeeded);
  console.log('current leader:', (await candidateB.leader())?.value);

  await leaderA.resign(); // deletes its key: scheduler-b is elected at once, not after a TTL
  const leaderB = await campaignB;
  console.log(`scheduler-b is leader now, fencing token ${leaderB.fencingToken} > ${leaderA.fencingToken}`);
  const late = await leaderA.txn().then(client.put(scheduleKey).value('by scheduler-a (stale)')).commit();
  console.log('scheduler-a write after resigning landed:', late.succeeded, '| isLeader:', leaderA.isLeader());
  await leaderB.proclaim('scheduler-b v2'); // update the advertised value without losing the place
  await leaderB.resign();
  await observing;
  console.log('observer saw:', seen.join(' -> '));
}
client.close();
