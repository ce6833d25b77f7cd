// A service whose settings reload while it runs: typed, validated, and revision-atomic.
// expect: pool resized to 20 at the same revision as timeout 2500
import { ConfigWatch } from '@coordkit/config-watch';
import { createClient } from '@coordkit/core';
import { z } from 'zod';

const prefix = `${process.env.EXAMPLE_PREFIX ?? '/example/'}service-config/`;
const schema = z.object({
  pool: z.object({ max: z.number().int().positive() }),
  timeoutMs: z.number().positive(),
});

const client = createClient();
await using config = await ConfigWatch.open(client, prefix, {
  schema,
  defaults: { pool: { max: 10 }, timeoutMs: 1000 },
});
console.log('starting with', config.value);

// An operator changes two settings in one transaction; the service sees one change, never half.
const changes = config.changes()[Symbol.asyncIterator]();
await config.set({ 'pool/max': 20, timeoutMs: 2500 });
const { value: change } = await changes.next();
console.log(
  `pool resized to ${change.value.pool.max} at the same revision as timeout ${change.value.timeoutMs}`,
  `(revision ${change.revision}, changed: ${change.changed.join(', ')})`,
);

// An invalid value is refused before anything is written; the last good config stays.
await config.set({ 'pool/max': -1 }).catch((err: { code: string }) => console.log('refused:', err.code));
console.log('still', config.value.pool.max);
await changes.return?.();
client.close();
