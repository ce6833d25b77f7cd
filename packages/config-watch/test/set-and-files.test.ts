import {
  ConfigWatch,
  exportConfig,
  formatFlatFile,
  formatJsonFile,
  importConfig,
  parseFlatFile,
  parseJsonFile,
} from '@coordkit/config-watch';
import { CoordError, ErrorCodes } from '@coordkit/core';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { collect, testClient } from './helpers.js';

describe('ConfigWatch.set', () => {
  it('writes several keys in one transaction, stores strings raw, and deletes undefined entries', async () => {
    using client = testClient();
    const prefix = uniquePrefix('cfg-set');
    await client.put(`${prefix}old`).value('1');
    await using watcher = await ConfigWatch.open(client, prefix);
    const changes = collect(watcher.changes());
    const { revision } = await watcher.set({
      'db/host': 'localhost',
      'db/port': 5432,
      label: '42',
      tags: ['a', 'b'],
      old: undefined,
    });
    await waitFor(() => changes.seen.length === 1, { message: 'the set to apply' });
    expect(changes.seen[0]!.revision).toBe(revision);
    expect(changes.seen[0]!.changed).toEqual(['db/host', 'db/port', 'label', 'old', 'tags']);
    expect(watcher.value).toEqual({ db: { host: 'localhost', port: 5432 }, label: '42', tags: ['a', 'b'] });
    expect(await exportConfig(client, prefix)).toEqual({
      'db/host': 'localhost',
      'db/port': '5432',
      label: '"42"',
      tags: '["a","b"]',
    });
  });

  it('writes with ifRevision only if nothing under the prefix changed since, else CONFLICT', async () => {
    using client = testClient();
    const prefix = uniquePrefix('cfg-cas');
    await client.put(`${prefix}a`).value('1');
    await using watcher = await ConfigWatch.open(client, prefix);
    const seen = watcher.revision;
    const first = await watcher.set({ a: 2 }, { ifRevision: seen });
    await waitFor(() => watcher.revision === first.revision, { message: 'the first write to apply' });

    // Stale: the write above changed the prefix after `seen`.
    const conflict = await watcher.set({ a: 3 }, { ifRevision: seen }).catch((err: unknown) => err);
    expect(CoordError.is(conflict, ErrorCodes.CONFLICT)).toBe(true);
    // Another writer's change to a different key under the prefix conflicts too.
    await client.put(`${prefix}other`).value('x');
    await expect(watcher.set({ a: 3 }, { ifRevision: first.revision })).rejects.toMatchObject({
      code: ErrorCodes.CONFLICT,
    });
    expect(await exportConfig(client, prefix)).toEqual({ a: '2', other: 'x' });

    // A delete seen by the watcher after ifRevision conflicts as well (etcd cannot compare deletes).
    await waitFor(() => watcher.value.other === 'x', { message: 'the other write to apply' });
    const beforeDelete = watcher.revision;
    const deleted = await client.delete().key(`${prefix}other`);
    await waitFor(() => watcher.revision === BigInt(deleted.header.revision), { message: 'the delete' });
    await expect(watcher.set({ a: 4 }, { ifRevision: beforeDelete })).rejects.toMatchObject({
      code: ErrorCodes.CONFLICT,
    });
    const base = watcher.revision;
    const current = await watcher.set({ a: 4 }, { ifRevision: base });
    expect(current.revision > base).toBe(true);
    expect(await exportConfig(client, prefix)).toEqual({ a: '4' });
    await expect(watcher.set({ a: 1 }, { ifRevision: -1n })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
    });
  });
});

describe('import and export', () => {
  it('round-trips a prefix through the flat file format and the JSON format', async () => {
    using client = testClient();
    const source = uniquePrefix('cfg-export');
    const flat = {
      'db/host': 'localhost',
      'db/pool/max': '5',
      'a=b': 'x=y',
      '#hash': '#not a comment',
      multi: 'line 1\nline 2\r\n\ttabbed \\ backslash',
      empty: '',
      json: '{"k":[1,2]}',
    };
    await importConfig(client, source, flat);
    const exported = await exportConfig(client, source);
    expect(exported).toEqual(flat);

    const text = formatFlatFile(exported);
    expect(text.split('\n').filter(Boolean)).toHaveLength(7);
    expect(parseFlatFile(text)).toEqual(flat);
    const target = uniquePrefix('cfg-import');
    await client.put(`${target}stale`).value('1');
    await client.put(`${target}db/host`).value('old');
    await using watcher = await ConfigWatch.open(client, target);
    const changes = collect(watcher.changes());
    await importConfig(client, target, parseFlatFile(text), { replace: true });
    expect(await exportConfig(client, target)).toEqual(flat);
    await waitFor(() => changes.seen.length === 1, { message: 'the import to apply' });
    // One transaction: one change naming every key written or deleted.
    expect(changes.seen[0]!.changed).toEqual([...Object.keys(flat), 'stale'].sort());

    const json = formatJsonFile({ 'db/host': 'localhost', 'db/pool/max': '5', label: '"42"', on: 'true' });
    expect(JSON.parse(json)).toEqual({ db: { host: 'localhost', pool: { max: 5 } }, label: '42', on: true });
    expect(parseJsonFile(json)).toEqual({
      'db/host': 'localhost',
      'db/pool/max': '5',
      label: '"42"',
      on: 'true',
    });
    expect(() => formatJsonFile({ db: '1', 'db/x': '2' })).toThrow(/use the flat format/);
  });

  it('parses comments and escapes, and rejects malformed lines by number', () => {
    expect(parseFlatFile('# comment\n\npath\\=x=a\\u0041\\#\nb=\n')).toEqual({ 'path=x': 'aA#', b: '' });
    for (const bad of ['a=1\nnoequals', 'a=\\q', 'a=1\na=2', '=1']) {
      expect(() => parseFlatFile(bad)).toThrowError(
        expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }),
      );
    }
    expect(() => parseFlatFile('a=1\nnoequals')).toThrow(/line 2/);
    expect(() => parseJsonFile('[1]')).toThrow(/must be an object/);
    expect(() => parseJsonFile('{"__proto__": {"x": 1}}')).toThrow(/__proto__/);
  });
});
