// Service discovery: two instances register, a client watches, picks round robin, and sees one go down.
// expect: down: api-2 at 10.0.0.2:8080
import { createClient, Session } from '@coordkit/core';
import { ServiceRegistry, watchService } from '@coordkit/discovery';

const prefix = `${process.env.EXAMPLE_PREFIX ?? '/example/'}services`; // default: 'coordkit/services'
const client = createClient();
{
  // Each instance registers under its own session lease: if the process dies, its key expires with it.
  await using sessionOne = await Session.create(client, { ttl: 5 });
  await using sessionTwo = await Session.create(client, { ttl: 5 });
  const one = new ServiceRegistry(sessionOne, { prefix });
  const two = new ServiceRegistry(sessionTwo, { prefix });
  await using instanceOne = await one.register({ service: 'api', id: 'api-1', address: '10.0.0.1:8080' });
  const instanceTwo = await two.register({
    service: 'api',
    id: 'api-2',
    address: '10.0.0.2:8080',
    metadata: { zone: 'eu-1' },
  });

  // A client needs no session to watch: one consistent read, then every change in revision order.
  await using apis = watchService(client, 'api', { prefix });
  await apis.ready;
  const listed = () => apis.instances().map((i) => `${i.id}@${i.address}`);
  console.log('instances:', listed().join(', '));
  const picks = Array.from({ length: 4 }, () => apis.pick()?.id);
  console.log('round robin:', picks.join(' '));

  const changes = apis.changes()[Symbol.asyncIterator](); // changes after this call
  await instanceTwo.deregister(); // deletes the key now (a crash would expire it within the TTL)
  const next = await changes.next();
  const change = next.done ? undefined : next.value;
  console.log(`${change?.type}: ${change?.instance.id} at ${change?.instance.address}`);
  await changes.return?.();
  console.log('instances now:', listed().join(', '), '| api-1 registered:', instanceOne.isRegistered());
}
client.close();
