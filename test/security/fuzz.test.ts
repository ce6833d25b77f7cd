// Hostile input, fuzzed with fast-check: random names, values and hand-written garbage keys thrown at
// every primitive. Each must answer with a clear CoordError (or work), never crash, hang or touch
// another primitive's keys.
import { CasCounter } from '@coordkit/cas-counter';
import { ConfigWatch } from '@coordkit/config-watch';
import { CoordError, createClient, ErrorCodes, Session } from '@coordkit/core';
import { ServiceRegistry } from '@coordkit/discovery';
import { Election } from '@coordkit/election';
import { Mutex, Semaphore } from '@coordkit/lock';
import { Topic } from '@coordkit/pubsub';
import { Queue } from '@coordkit/queue';
import { sharedEndpoints, uniquePrefix, waitFor } from '@coordkit/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let client: ReturnType<typeof createClient>;
let session: Session;
beforeAll(async () => {
  client = createClient({ endpoints: sharedEndpoints() });
  session = await Session.create(client, { ttl: 10 });
});
afterAll(async () => {
  await session.close();
  client.close();
});

/** Runs `fn`; passes if it succeeds or throws a CoordError with INVALID_ARGUMENT (anything else fails). */
async function cleanly(fn: () => unknown): Promise<'ok' | 'refused'> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(CoordError);
    expect((err as CoordError).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((err as CoordError).message).toMatch(/invalid /);
    return 'refused';
  }
}

const hostileName = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', '/', 'a/', '\u0000', 'x\ny', 'é/ü', 'a'.repeat(600), '../..', 'jobs/x'),
);

describe('hostile names', () => {
  it('every constructor accepts a name or refuses it with INVALID_ARGUMENT, nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(hostileName, async (raw) => {
        const name = `${uniquePrefix('fuzz')}${raw}`.slice(0, raw.length > 500 ? 700 : undefined);
        const outcomes = await Promise.all([
          cleanly(() => new Mutex(session, raw)),
          cleanly(() => new Semaphore(session, raw, { permits: 1 })),
          cleanly(() => new Election(session, raw)),
          cleanly(() => new Queue(session, raw)),
          cleanly(() => new Topic(client, raw)),
          cleanly(() => new CasCounter(client, raw)),
          cleanly(() => new Mutex(session, name)),
        ]);
        // The empty name and names ending in "/" would merge key ranges: always refused.
        if (raw === '' || raw.endsWith('/'))
          expect(outcomes.slice(0, 6).every((o) => o === 'refused')).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('bad option values are refused before anything is written', async () => {
    const prefix = uniquePrefix('fuzz-opts');
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.integer({ min: -5, max: 0 }), fc.double({ noNaN: false })), async (n) => {
        if (Number.isInteger(n) && n >= 1) return;
        await expect(
          Promise.resolve().then(() => new Semaphore(session, `${prefix}s`, { permits: n })),
        ).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
      }),
      { numRuns: 30 },
    );
    const leftovers = await client.getAll().prefix(prefix).keys();
    expect(leftovers).toEqual([]);
  });
});

describe('garbage written by hand', () => {
  it('config and discovery watchers report undecodable keys and keep serving the rest', async () => {
    const prefix = uniquePrefix('fuzz-garbage');
    const reports: unknown[] = [];
    await using config = await ConfigWatch.open<Record<string, unknown>>(client, `${prefix}config/`, {
      onError: (report) => reports.push(report),
    });
    const registry = new ServiceRegistry(session, { prefix: `${prefix}services` });
    await using instance = await registry.register({ service: 'api', address: '10.0.0.1:80' });
    await using services = registry.watch('api', { onError: (report) => reports.push(report) });
    await services.ready;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        await client.put(`${prefix}services/api/garbage`).value(Buffer.from(bytes));
        await client.put(`${prefix}config/blob`).value(Buffer.from(bytes));
      }),
      { numRuns: 25 },
    );
    await client.put(`${prefix}config/ok`).value('1');
    await waitFor(() => config.value.ok === 1, { message: 'config keeps applying good keys' });
    expect(services.instances().map((i) => i.id)).toEqual([instance.id]);
    expect(reports.length).toBeGreaterThan(0);
  });

  it('a queue job written as garbage is set aside, and good jobs still flow', async () => {
    const name = `${uniquePrefix('fuzz-queue')}q`;
    await using queue = new Queue<{ n: number }>(session, name);
    await client.put(`${name}/jobs/garbage`).value(Buffer.from([0xff, 0x00, 0x7b]));
    await client.put(`${name}/ready/0999/0000000000000-0-garbage`).value('not json');
    await queue.enqueue({ n: 1 });
    const job = await queue.dequeue({ timeout: 5000 });
    expect(job.data).toEqual({ n: 1 });
    await job.ack();
    // The undecodable ready key was moved to the dead-letter set, where an operator can see it.
    await waitFor(async () => (await queue.deadLetters()).some((d) => d.id.startsWith('undecodable-')), {
      message: 'garbage set aside as a dead letter',
    });
    expect(await client.getAll().prefix(`${name}/ready/`).keys()).toEqual([]);
  });
});
