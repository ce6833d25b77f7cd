// Session.create and close timed apart, against etcd3 lease grant and revoke, 300 cycles x 3 rounds,
// on a throwaway etcd. Usage: node bench/diag/session-parts.ts
import { createClient, Session } from '@coordkit/core';
import { startEtcd } from '@coordkit/testing';
import { Etcd3 } from 'etcd3';

await using etcd = await startEtcd({ nodes: 1 });
const client = createClient({ endpoints: [...etcd.endpoints] });
const etcd3 = new Etcd3({ hosts: [...etcd.endpoints] });
const N = 300;
for (let round = 0; round < 3; round++) {
  let tc = 0,
    tx = 0,
    tg = 0,
    tr = 0;
  for (let i = 0; i < N; i++) {
    let t = performance.now();
    const s = await Session.create(client, { ttl: 10 });
    tc += performance.now() - t;
    t = performance.now();
    await s.close();
    tx += performance.now() - t;
    t = performance.now();
    const lease = etcd3.lease(10);
    await lease.grant();
    tg += performance.now() - t;
    t = performance.now();
    await lease.revoke();
    tr += performance.now() - t;
  }
  console.log(
    `ours create ${(tc / N).toFixed(2)} close ${(tx / N).toFixed(2)} | etcd3 grant ${(tg / N).toFixed(2)} revoke ${(tr / N).toFixed(2)} ms`,
  );
}
client.close();
etcd3.close();
