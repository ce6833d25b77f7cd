import { type ConfigErrorReport, ConfigWatch } from '@coordkit/config-watch';
import { CoordError, ErrorCodes, ops } from '@coordkit/core';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { collect, testClient } from './helpers.js';

describe('ConfigWatch snapshot mapping', () => {
  it('nests key paths, reads JSON when it parses and strings otherwise, and fills defaults', async () => {
    using client = testClient();
    const prefix = uniquePrefix('cfg-map');
    await client.put(`${prefix}db/pool/max`).value('5');
    await client.put(`${prefix}db/host`).value('localhost');
    await client.put(`${prefix}flags/beta`).value('true');
    await client.put(`${prefix}name`).value('"42"');
    await client.put(`${prefix}list`).value('[1,"a"]');
    await client.put(`${prefix}empty`).value('');
    await client.put(`${prefix}obj`).value('{"a":{"b":null}}');
    const reports: ConfigErrorReport[] = [];
    await using watcher = await ConfigWatch.open(client, prefix, {
      defaults: { db: { pool: { max: 1, min: 2 } }, region: 'eu' },
      onError: (report) => reports.push(report),
    });
    expect(watcher.value).toEqual({
      db: { pool: { max: 5, min: 2 }, host: 'localhost' },
      flags: { beta: true },
      name: '42',
      list: [1, 'a'],
      empty: '',
      obj: { a: { b: null } },
      region: 'eu',
    });
    expect(watcher.prefix).toBe(prefix);
    expect(watcher.revision > 0n).toBe(true);
    expect(reports).toEqual([]);
  });

  it('gives a typed value through a zod schema, including the schema output (coercion, defaults)', async () => {
    using client = testClient();
    const prefix = uniquePrefix('cfg-zod');
    await client.put(`${prefix}server/port`).value('8080');
    await client.put(`${prefix}server/host`).value('example.org');
    const schema = z.object({
      server: z.object({ host: z.string(), port: z.number().int().min(1), tls: z.boolean().default(false) }),
      retries: z.number().int(),
    });
    await using watcher = await ConfigWatch.open(client, prefix, { schema, defaults: { retries: 3 } });
    const port: number = watcher.value.server.port;
    expect(port).toBe(8080);
    expect(watcher.value).toEqual({ server: { host: 'example.org', port: 8080, tls: false }, retries: 3 });
  });

  it('lets the nested keys win over a leaf at the same path, and reports the leaf', async () => {
    using client = testClient();
    const prefix = uniquePrefix('cfg-conflict');
    await client.put(`${prefix}db`).value('7');
    await client.put(`${prefix}db/x`).value('1');
    await client.put(`${prefix}a//b`).value('1');
    const reports: ConfigErrorReport[] = [];
    await using watcher = await ConfigWatch.open(client, prefix, {
      onError: (report) => reports.push(report),
    });
    expect(watcher.value).toEqual({ db: { x: 1 } });
    expect(reports).toHaveLength(1);
    expect(reports[0]!.applied).toBe(true);
    expect(reports[0]!.error.code).toBe(ErrorCodes.DECODE_FAILED);
    expect(reports[0]!.issues.map((issue) => issue.message).sort()).toEqual([
      'key "a//b" ignored: the path has an empty segment (leading, trailing or double "/")',
      'key "db" ignored: deeper keys under "db/" win',
    ]);
    // Deleting the nested key brings the leaf back, as one change.
    const changes = collect(watcher.changes());
    await client.delete().key(`${prefix}db/x`);
    await waitFor(() => changes.seen.length === 1, { message: 'the delete to apply' });
    expect(changes.seen[0]!.value).toEqual({ db: 7 });
    expect(changes.seen[0]!.changed).toEqual(['db/x']);
  });

  it('rejects bad arguments before reading anything', async () => {
    using client = testClient();
    await expect(ConfigWatch.open(client, '')).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await expect(
      ConfigWatch.open(client, uniquePrefix('cfg-args'), { schema: {} as never }),
    ).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
      message: expect.stringContaining('schema'),
    });
    await expect(
      ConfigWatch.open(client, uniquePrefix('cfg-args'), { defaults: [] as never }),
    ).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
      message: expect.stringContaining('defaults'),
    });
  });
});

describe('ConfigWatch changes', () => {
  it('applies a multi-key transaction as one change, to every consumer started before it', async () => {
    using client = testClient();
    const prefix = uniquePrefix('cfg-changes');
    await client.put(`${prefix}a`).value('1');
    await using watcher = await ConfigWatch.open(client, prefix);
    const early = collect(watcher.changes());
    const leaving = watcher.changes();
    const txn = await client.kv.txn({
      compare: [],
      success: [ops.put(`${prefix}a`, '2'), ops.put(`${prefix}b/c`, 'x'), ops.put(`${prefix}d`, '{"e":1}')],
      failure: [],
    });
    const firstOfLeaving = await leaving.next();
    await leaving.return?.();
    await waitFor(() => early.seen.length === 1, { message: 'the transaction to apply' });
    const late = collect(watcher.changes());
    await client.delete().key(`${prefix}a`);
    await waitFor(() => early.seen.length === 2 && late.seen.length === 1, {
      message: 'the delete to apply',
    });

    expect(firstOfLeaving.value).toEqual(early.seen[0]);
    expect(early.seen[0]).toEqual({
      value: { a: 2, b: { c: 'x' }, d: { e: 1 } },
      previous: { a: 1 },
      revision: BigInt(txn.header.revision),
      changed: ['a', 'b/c', 'd'],
    });
    expect(early.seen[1]!.changed).toEqual(['a']);
    expect(early.seen[1]!.value).toEqual({ b: { c: 'x' }, d: { e: 1 } });
    expect(late.seen).toEqual([early.seen[1]]);
    expect(watcher.value).toEqual(early.seen[1]!.value);
    expect(watcher.revision).toBe(early.seen[1]!.revision);
    // The consumer that left saw nothing more and stays finished.
    expect(await leaving.next()).toEqual({ value: undefined, done: true });

    await watcher.close();
    await Promise.all([early.done, late.done]);
    expect(early.failure).toBeUndefined();
    await watcher.close();
    await expect(watcher.set({ a: 1 })).rejects.toSatisfy((err) => CoordError.is(err, ErrorCodes.CLOSED));
    expect(watcher.value).toEqual(early.seen[1]!.value);
  });

  it('closes when its signal aborts, ending every loop', async () => {
    using client = testClient();
    const controller = new AbortController();
    const watcher = await ConfigWatch.open(client, uniquePrefix('cfg-signal'), { signal: controller.signal });
    const changes = collect(watcher.changes());
    controller.abort();
    await changes.done;
    expect(changes.failure).toBeUndefined();
    await expect(watcher.set({ a: 1 })).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
  });
});
