// Pub/sub: ordered publishing, a replay from the earliest retained message, and a durable group.
// expect: billing resumed at order 2
import { createClient } from '@coordkit/core';
import { Topic } from '@coordkit/pubsub';

type Order = { order: number };
const prefix = process.env.EXAMPLE_PREFIX ?? '/example/';
const client = createClient();
const orders = new Topic<Order>(client, `${prefix}topics/orders`, { retention: { maxMessages: 1_000 } });

const first = await orders.publish({ order: 1 }); // one key, created exactly once
const batch = await orders.publishBatch([{ order: 2 }, { order: 3 }]); // one transaction, one revision
console.log(`published order 1 at revision ${first.revision}, orders 2-3 at ${batch.revision}`);

// Replay: every retained message, in publish order, then the live stream.
{
  await using audit = orders.subscribe({ from: 'earliest' });
  for await (const message of audit) {
    console.log(`audit: order ${message.data.order} (revision ${message.revision}, index ${message.index})`);
    if (message.data.order === 3) break; // leaving the loop stops the etcd watch
  }
}

// A durable group stores its position in etcd. A message counts as acknowledged when the loop asks
// for the next one, so the message in hand when the loop is left is delivered again (at-least-once).
{
  await using billing = orders.subscribe({ group: 'billing', from: 'earliest' });
  for await (const { data } of billing) {
    console.log(`billing (first run): order ${data.order}`);
    if (data.order === 2) break; // a "crash" while handling order 2
  }
}

await orders.publish({ order: 4 }); // published while no billing subscriber runs
{
  await using billing = orders.subscribe({ group: 'billing', from: 'latest' }); // `from` ignored: the group has a position
  const got: number[] = [];
  for await (const { data } of billing) {
    got.push(data.order);
    if (data.order === 4) break;
  }
  console.log(`billing resumed at order ${got[0]}, then got ${got.slice(1).join(', ')}`);
}
client.close();
