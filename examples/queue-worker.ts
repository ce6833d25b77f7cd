// A queue worker: jobs are acked on success, retried with backoff on failure, dead-lettered at the end.
// expect: dead letter: render-3 after 2 attempts
import { createClient, Session } from '@coordkit/core';
import { Queue } from '@coordkit/queue';

type Email = { to: string; template: string };
const prefix = process.env.EXAMPLE_PREFIX ?? '/example/';
const client = createClient();
{
  await using session = await Session.create(client, { ttl: 5 });
  await using emails = new Queue<Email>(session, `${prefix}queues/emails`, {
    maxAttempts: 2, // then the job moves to the dead-letter set
    backoff: () => 100, // ms before a nacked job is ready again (default: exponential from 1 s)
  });

  await emails.enqueue({ to: 'ada@example.com', template: 'welcome' }, { id: 'welcome-1' });
  await emails.enqueue({ to: 'bob@example.com', template: 'welcome' }, { id: 'welcome-2', priority: 5 });
  await emails.enqueue({ to: 'eve@example.com', template: 'broken' }, { id: 'render-3' });
  const again = await emails.enqueue({ to: 'ada@example.com', template: 'welcome' }, { id: 'welcome-1' });
  console.log('welcome-1 enqueued twice is a duplicate:', again.duplicate);
  console.log('stats before:', await emails.stats());

  const stop = new AbortController();
  const delivered = new Set<string>();
  let flakyOnce = true;
  let lastAttemptSeen = false;
  // Stop once every job reached its end; process() then settles the running handlers and resolves.
  const stopWhenDone = () => delivered.size === 2 && lastAttemptSeen && stop.abort();
  await emails.process(
    async (job) => {
      console.log(`handling ${job.id} (attempt ${job.attempt}, priority ${job.priority})`);
      if (job.data.template === 'broken') {
        lastAttemptSeen = job.attempt === 2;
        stopWhenDone();
        throw new Error('template failed to render'); // thrown: nacked with this error, retried with backoff
      }
      if (job.id === 'welcome-1' && flakyOnce) {
        flakyOnce = false;
        await job.nack({ delay: 50, error: 'smtp busy' }); // explicit nack: retried after 50 ms
        return;
      }
      delivered.add(job.id);
      await job.ack(); // explicit ack (returning without settling would ack too)
      stopWhenDone();
    },
    { concurrency: 2, signal: stop.signal },
  );

  console.log('sent:', [...delivered].sort().join(', '));
  for (const dead of await emails.deadLetters()) {
    console.log(`dead letter: ${dead.id} after ${dead.attempt} attempts (${dead.lastError})`);
  }
  console.log('stats after:', await emails.stats());
}
client.close();
