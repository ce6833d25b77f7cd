import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Session } from '@coordkit/core';
import { ServiceRegistry } from '@coordkit/discovery';
import { Queue } from '@coordkit/queue';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { coord, scratchDir, sharedClient, startCoord } from './helpers.js';

async function ok(args: readonly string[]): Promise<string> {
  const result = await coord(args);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout.trimEnd();
}

describe.concurrent('coord data commands', () => {
  it('counter add and get', async () => {
    const name = `${uniquePrefix('cli-counter')}hits`;
    expect(await ok(['counter', 'get', name])).toBe('0');
    expect(await ok(['counter', 'add', name, '5'])).toBe('5');
    expect(await ok(['counter', 'add', name, '-2'])).toBe('3');
    expect(await ok(['counter', 'add', name])).toBe('4');
    expect(JSON.parse(await ok(['counter', 'get', name, '--json']))).toEqual({ name, value: '4' });
    const bad = await coord(['counter', 'add', name, 'many']);
    expect(bad.code).toBe(64);
    expect(await ok(['counter', 'get', name])).toBe('4');
  });

  it('queue push, stats, pop in order, duplicate ids, and dead letters', async () => {
    const name = `${uniquePrefix('cli-queue')}jobs`;
    expect(await ok(['queue', 'push', name, 'first'])).toMatch(/^queued \S+ \(revision \d+\)$/);
    const pushed = JSON.parse(await ok(['queue', 'push', name, '{"n":2}', '--id', 'job-2', '--json']));
    expect(pushed).toMatchObject({ id: 'job-2' });
    expect(await ok(['queue', 'push', name, 'again', '--id', 'job-2'])).toMatch(/^already queued job-2 /);
    expect(JSON.parse(await ok(['queue', 'stats', name, '--json']))).toMatchObject({
      ready: 2,
      delayed: 0,
      inflight: 0,
      dead: 0,
    });
    expect(await ok(['queue', 'pop', name])).toBe('"first"');
    expect(JSON.parse(await ok(['queue', 'pop', name, '--json']))).toEqual({
      id: 'job-2',
      attempt: 1,
      data: { n: 2 },
    });
    expect(await ok(['queue', 'stats', name])).toBe('ready 0  delayed 0  inflight 0  dead 0');
    const empty = await coord(['--timeout', '200', 'queue', 'pop', name]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/^coord: TIMEOUT: /);
    expect(await ok(['queue', 'dead', name])).toBe('no dead letters');

    // A job that failed its only attempt (nacked by a consumer in this process) is a dead letter.
    using client = sharedClient();
    await using session = await Session.create(client, { ttl: 5 });
    await using queue = new Queue<string>(session, name, { maxAttempts: 1 });
    await queue.enqueue('poison', { id: 'bad-1' });
    const job = await queue.dequeue({ timeout: 5_000 });
    await job.nack({ error: new Error('cannot parse') });
    expect(await ok(['queue', 'dead', name])).toMatch(/^bad-1\t.*cannot parse/);
    expect(JSON.parse(await ok(['queue', 'stats', name, '--json']))).toMatchObject({ ready: 0, dead: 1 });
  });

  it('config set, get, export, and import of a flat file', async () => {
    await using dir = await scratchDir();
    const prefix = uniquePrefix('cli-config');
    const source = `${prefix}app/`;
    const copy = `${prefix}copy/`;
    expect(await ok(['config', 'set', source, 'port=8080', 'name=api', 'debug=true'])).toMatch(
      /^written at revision \d+$/,
    );
    expect(JSON.parse(await ok(['config', 'get', source, '--json']))).toMatchObject({
      value: { port: 8080, name: 'api', debug: true },
    });
    const exported = await ok(['config', 'export', source]);
    expect(exported.split('\n')).toEqual(['debug=true', 'name=api', 'port=8080']);
    // Deleting with `path=` and re-reading.
    await ok(['config', 'set', source, 'debug=']);
    expect(JSON.parse(await ok(['config', 'get', source]))).toEqual({ port: 8080, name: 'api' });

    const file = join(dir.path, 'app.conf');
    await writeFile(file, '# imported\nport=9090\nname=copy\n');
    expect(await ok(['config', 'import', copy, file])).toMatch(/^imported 2 keys at revision \d+$/);
    expect((await ok(['config', 'export', copy])).split('\n')).toEqual(['name=copy', 'port=9090']);
    using client = sharedClient();
    expect(await client.get(`${copy}port`).string()).toBe('9090');
  });

  it('sub --from earliest prints messages published before and after it started, in order', async () => {
    const topic = `${uniquePrefix('cli-pubsub')}events`;
    const first = JSON.parse(await ok(['pub', topic, '{"n":1}', '--json'])) as { revision: string };
    const sub = startCoord(['sub', topic, '--from', 'earliest', '--json']);
    try {
      const messages = () =>
        sub
          .stdout()
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as { revision: string; data: unknown });
      await waitFor(() => messages().length >= 1, { timeout: 15_000, message: 'the earlier message' });
      const second = await ok(['pub', topic, 'hello there']);
      const revision = /^published at revision (\d+)$/.exec(second)?.[1];
      await waitFor(() => messages().length >= 2, { timeout: 15_000, message: 'the new message' });
      expect(messages()).toEqual([
        expect.objectContaining({ revision: first.revision, data: { n: 1 } }),
        expect.objectContaining({ revision, data: 'hello there' }),
      ]);
      sub.child.kill('SIGINT');
      expect((await sub.exited).code).toBe(0);
    } finally {
      await sub.stop();
    }
  });

  it('services lists the instances registered with @coordkit/discovery', async () => {
    const prefix = uniquePrefix('cli-services').replace(/^\/+|\/+$/g, '');
    using client = sharedClient();
    await using session = await Session.create(client, { ttl: 5 });
    const registry = new ServiceRegistry(session, { prefix });
    expect(await ok(['services', 'billing', '--prefix', prefix])).toBe('no instances of billing');
    await using registration = await registry.register({
      service: 'billing',
      id: 'billing-1',
      address: '10.0.0.7:8443',
      metadata: { zone: 'b' },
    });
    expect(registration).toBeDefined();
    const human = await ok(['services', 'billing', '--prefix', prefix]);
    expect(human.split('\t')).toEqual(['billing-1', '10.0.0.7:8443', '{"zone":"b"}']);
    const listed = JSON.parse(await ok(['services', 'billing', '--prefix', prefix, '--json']));
    expect(listed).toEqual([
      expect.objectContaining({ id: 'billing-1', address: '10.0.0.7:8443', metadata: { zone: 'b' } }),
    ]);
  });
});
