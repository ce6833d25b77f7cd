import { type ConfigErrorReport, ConfigWatch, exportConfig } from '@coordkit/config-watch';
import { CoordError, ErrorCodes } from '@coordkit/core';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { collect, testClient } from './helpers.js';

const schema = z.object({ port: z.number().int().min(1), name: z.string().default('svc') });

describe('ConfigWatch validation', () => {
  it('reports an invalid update and keeps the last good value, then applies a later fix', async () => {
    using client = testClient();
    const prefix = uniquePrefix('cfg-invalid');
    await client.put(`${prefix}port`).value('80');
    const reports: ConfigErrorReport[] = [];
    await using watcher = await ConfigWatch.open(client, prefix, { schema, onError: (r) => reports.push(r) });
    const goodRevision = watcher.revision;
    const changes = collect(watcher.changes());

    const bad = await client.put(`${prefix}port`).value('not-a-port');
    await waitFor(() => reports.length === 1, { message: 'the invalid update to be reported' });
    expect(reports[0]!.revision).toBe(BigInt(bad.header.revision));
    expect(reports[0]!.applied).toBe(false);
    expect(reports[0]!.error.code).toBe(ErrorCodes.DECODE_FAILED);
    expect(reports[0]!.error.issues).toBe(reports[0]!.issues);
    expect(reports[0]!.issues[0]!.path).toEqual(['port']);
    expect(watcher.value).toEqual({ port: 80, name: 'svc' });
    expect(watcher.revision).toBe(goodRevision);

    // Still invalid: another key changes meanwhile, and is carried into the fix below.
    await client.put(`${prefix}name`).value('api');
    await waitFor(() => reports.length === 2, { message: 'the second invalid update to be reported' });

    // set validates the would-be config and writes nothing when it is invalid.
    const before = await exportConfig(client, prefix);
    const rejected = await watcher.set({ port: -1 }).catch((err: unknown) => err);
    expect(CoordError.is(rejected, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    expect((rejected as CoordError).issues?.length).toBeGreaterThan(0);
    expect(await exportConfig(client, prefix)).toEqual(before);

    const fixed = await watcher.set({ port: 8080 });
    await waitFor(() => changes.seen.length === 1, { message: 'the fix to apply' });
    expect(changes.seen[0]).toEqual({
      value: { port: 8080, name: 'api' },
      previous: { port: 80, name: 'svc' },
      revision: fixed.revision,
      changed: ['name', 'port'],
    });
    expect(watcher.value).toEqual({ port: 8080, name: 'api' });
    expect(watcher.revision).toBe(fixed.revision);
    expect(reports).toHaveLength(2);
  });

  it('rejects set entries that would shadow a key or cannot be stored, writing nothing', async () => {
    using client = testClient();
    const prefix = uniquePrefix('cfg-set-invalid');
    await client.put(`${prefix}db/host`).value('h');
    await using watcher = await ConfigWatch.open(client, prefix);
    const attempts: Record<string, unknown>[] = [
      { db: 'leaf' },
      { 'a//b': 1 },
      { '/a': 1 },
      { a: 10n },
      { a: Number.NaN },
      {},
    ];
    for (const entries of attempts) {
      await expect(watcher.set(entries)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    }
    expect(await exportConfig(client, prefix)).toEqual({ 'db/host': 'h' });
  });

  it('refuses to open on an invalid stored config', async () => {
    using client = testClient();
    const prefix = uniquePrefix('cfg-open-invalid');
    await client.put(`${prefix}port`).value('0');
    const err = await ConfigWatch.open(client, prefix, { schema }).catch((e: unknown) => e);
    expect(CoordError.is(err, ErrorCodes.DECODE_FAILED)).toBe(true);
    expect((err as CoordError).issues?.length).toBe(1);
  });

  it('treats a schema that throws as invalid, and awaits async schemas', async () => {
    using client = testClient();
    const prefix = uniquePrefix('cfg-async-schema');
    await client.put(`${prefix}n`).value('1');
    const asyncSchema = z.object({ n: z.number().refine(async (n) => n < 10, 'n must be below 10') });
    const reports: ConfigErrorReport[] = [];
    await using watcher = await ConfigWatch.open(client, prefix, {
      schema: asyncSchema,
      onError: (r) => reports.push(r),
    });
    await client.put(`${prefix}n`).value('11');
    await waitFor(() => reports.length === 1, { message: 'the async rejection' });
    expect(reports[0]!.issues[0]!.message).toBe('n must be below 10');
    expect(watcher.value).toEqual({ n: 1 });
    const throwing = {
      '~standard': {
        version: 1 as const,
        vendor: 'test',
        validate: () => {
          throw new Error('boom');
        },
      },
    };
    await expect(ConfigWatch.open(client, prefix, { schema: throwing })).rejects.toMatchObject({
      code: ErrorCodes.DECODE_FAILED,
      message: expect.stringContaining('boom'),
    });
  });
});
