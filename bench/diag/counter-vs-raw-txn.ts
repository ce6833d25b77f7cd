// Interleaved: CasCounter.increment against raw guarded txns (short value, and a value of the counter's
// shape), 4,000 ops each in 20 chunks, on a throwaway etcd. Usage: node bench/diag/counter-vs-raw-txn.ts
import { CasCounter } from '@coordkit/cas-counter';
import { createClient, ops } from '@coordkit/core';
import { startEtcd } from '@coordkit/testing';
import { interleaved } from '../lib/interleave.ts';
import { makeContext, toMarkdown } from '../lib/scenario.ts';

await using etcd = await startEtcd({ nodes: 1 });
const ctx = makeContext(etcd.endpoints, etcd.metricsUrl(0));
const client = createClient({ endpoints: [...etcd.endpoints] });
const counter = new CasCounter(client, '/bench/counter/solo');
let r1 = BigInt((await client.put('/bench/raw1').value('0').exec()).header.revision);
let r2 = BigInt((await client.put('/bench/raw2').value('0').exec()).header.revision);
const results = await interleaved(
  ctx,
  [
    {
      name: 'ours',
      async op() {
        await counter.increment();
      },
    },
    {
      name: 'raw short value',
      async op(i) {
        const res = await client.kv.txn({
          compare: [ops.modRevisionIs('/bench/raw1', r1)],
          success: [ops.put('/bench/raw1', String(i))],
          failure: [ops.get('/bench/raw1')],
        });
        r1 = BigInt(res.header.revision);
      },
    },
    {
      name: 'raw same value shape',
      async op(i) {
        const res = await client.kv.txn({
          compare: [ops.modRevisionIs('/bench/raw2', r2)],
          success: [ops.put('/bench/raw2', `${i} Qm9xY2tpdF9q.${i.toString(36)}`)],
          failure: [ops.get('/bench/raw2')],
        });
        r2 = BigInt(res.header.revision);
      },
    },
  ],
  { ops: 4000, rounds: 20 },
);
console.log(toMarkdown(results));
client.close();
