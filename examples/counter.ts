// An exact counter: concurrent increments from several writers give an exact total; compare-and-set.
// expect: total after 5 x 20 concurrent increments: 100
import { CasCounter } from '@coordkit/cas-counter';
import { createClient } from '@coordkit/core';

const prefix = process.env.EXAMPLE_PREFIX ?? '/example/';
const name = `${prefix}counters/page-views`;
const client = createClient();

// Five writers (as five processes would be), each with its own counter handle, all contending on one key.
// Every add is a transaction guarded by the key's mod revision: no update is lost.
async function writer(): Promise<void> {
  await using counter = new CasCounter(client, name);
  for (let i = 0; i < 20; i++) await counter.increment();
}
await Promise.all(Array.from({ length: 5 }, writer));
{
  await using counter = new CasCounter(client, name);
  console.log(`total after 5 x 20 concurrent increments: ${await counter.get()}`);

  // Compare-and-set: applied only if the value is still the expected one.
  const reset = await counter.compareAndSet(100n, 0n);
  console.log('compareAndSet(100n, 0n):', reset);
  const stale = await counter.compareAndSet(100n, 7n);
  console.log('compareAndSet(100n, 7n) again:', stale); // { ok: false, current: 0n }
  console.log('add(-3n) returns the new value:', await counter.add(-3n));
}

// A hot counter can be sharded: each handle adds to one shard key (a random one, moved on conflict),
// so contending writers spread out; get() sums every shard at one revision.
async function shardedWriter(): Promise<void> {
  await using hits = new CasCounter(client, `${prefix}counters/hits`, { shards: 4 });
  for (let i = 0; i < 10; i++) await hits.increment();
}
await Promise.all(Array.from({ length: 4 }, shardedWriter));
{
  await using hits = new CasCounter(client, `${prefix}counters/hits`, { shards: 4 });
  console.log('sharded total of 4 x 10 increments:', await hits.get());
}
client.close();
