// Pure JS cost of one CasCounter.increment, with etcd taken out: the client's kv.txn answers at once.
// Compared with a bare client.kv.txn call through the same stub. Usage: node bench/diag/counter-js-cost.ts
import { CasCounter } from '@coordkit/cas-counter';
import { createClient, ops } from '@coordkit/core';

const client = createClient({ endpoints: ['127.0.0.1:1'] });
let revision = 1;
type Txn = typeof client.kv.txn;
client.kv.txn = (async () => ({
  succeeded: true,
  header: { revision: String(++revision) },
  responses: [{}],
})) as unknown as Txn;
const counter = new CasCounter(client, '/diag/counter');
const N = 200_000;
for (let round = 0; round < 3; round++) {
  let t = performance.now();
  for (let i = 0; i < N; i++) await counter.increment();
  const ours = ((performance.now() - t) * 1000) / N;
  let known = 1n;
  t = performance.now();
  for (let i = 0; i < N; i++) {
    const res = await client.kv.txn({
      compare: [ops.modRevisionIs('/diag/raw', known)],
      success: [ops.put('/diag/raw', String(i))],
      failure: [ops.get('/diag/raw')],
    });
    known = BigInt(res.header.revision);
  }
  const raw = ((performance.now() - t) * 1000) / N;
  console.log(`CasCounter.increment ${ours.toFixed(2)} µs/op, bare txn call ${raw.toFixed(2)} µs/op`);
}
client.close();
