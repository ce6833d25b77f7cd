import { parseCounterValue } from '@coordkit/cas-counter';
import { type KeyValue, leaseIdToHex, prefixRangeEnd, readRange } from '@coordkit/core';
import type { Etcd3 } from 'etcd3';

/** A lock, semaphore or election found in the keyspace: keys of live leases queued under one name. */
export interface HeldName {
  readonly name: string;
  readonly kind: 'lock' | 'election';
  /** Holder (lock) or leader (election): the oldest key. */
  readonly holder: {
    readonly key: string;
    readonly lease: string;
    readonly value: string;
    readonly fencingToken: bigint;
  };
  readonly waiting: number;
}

export interface QueueDepth {
  readonly name: string;
  readonly ready: number;
  readonly delayed: number;
  readonly inflight: number;
  readonly dead: number;
}

export interface CounterValue {
  readonly name: string;
  readonly value: bigint;
}

export interface StatusReport {
  readonly revision: bigint;
  readonly held: readonly HeldName[];
  readonly queues: readonly QueueDepth[];
  readonly counters: readonly CounterValue[];
}

const QUEUE_PART = /^(.*)\/(ready|delayed|inflight|dead)\/(.+)$/;
const COUNTER_PART = /^(.*)\/(value|shard\/\d+)$/;

function parentOf(key: string): string {
  return key.slice(0, key.lastIndexOf('/'));
}

/**
 * Reads the keyspace (or a prefix) at one revision and recognises coordkit's documented layouts
 * (docs/key-layout.md): lease-owned `<name>/<leaseHex>` keys are locks (empty value) or elections,
 * `<name>/{ready,delayed,inflight,dead}/…` are queues, `<name>/value` and `<name>/shard/<i>` counters.
 */
export async function scanStatus(client: Etcd3, prefix: string | undefined): Promise<StatusReport> {
  const key = Buffer.from(prefix ?? '\0');
  const rangeEnd = prefix ? undefined : Buffer.from([0]);
  const snapshot = prefix
    ? await readRange(client, { key, rangeEnd: prefixRangeEnd(Buffer.from(prefix)) }, 'status')
    : await readRange(client, { key, ...(rangeEnd ? { rangeEnd } : {}) }, 'status');
  const queued = new Map<string, KeyValue[]>();
  const queues = new Map<string, { ready: number; delayed: number; inflight: number; dead: number }>();
  const counters = new Map<string, bigint>();
  for (const kv of snapshot.kvs) {
    const queue = QUEUE_PART.exec(kv.key);
    if (queue) {
      const depth = queues.get(queue[1]!) ?? { ready: 0, delayed: 0, inflight: 0, dead: 0 };
      const part = queue[2] as 'ready' | 'delayed' | 'inflight' | 'dead';
      if (part !== 'inflight' || !queue[3]!.includes('/')) depth[part]++;
      queues.set(queue[1]!, depth);
      continue;
    }
    const counter = COUNTER_PART.exec(kv.key);
    // A counter stores `<count>` or `<count> <opId>` (the op id resolves lost replies).
    const stored = counter ? parseCounterValue(kv.value) : undefined;
    if (counter && stored) {
      counters.set(counter[1]!, (counters.get(counter[1]!) ?? 0n) + stored.count);
      continue;
    }
    // Lock and election keys end with their lease id in hex (etcd's Go concurrency layout).
    if (kv.lease && kv.key.slice(kv.key.lastIndexOf('/') + 1).startsWith(leaseIdToHex(kv.lease))) {
      const list = queued.get(parentOf(kv.key)) ?? [];
      list.push(kv);
      queued.set(parentOf(kv.key), list);
    }
  }
  const held: HeldName[] = [...queued.entries()].map(([name, kvs]) => {
    kvs.sort((a, b) => (a.createRevision < b.createRevision ? -1 : 1));
    const first = kvs[0]!;
    const value = first.value.toString();
    return {
      name,
      kind: value === '' ? 'lock' : 'election',
      holder: { key: first.key, lease: first.lease!, value, fencingToken: first.createRevision },
      waiting: kvs.length - 1,
    };
  });
  return {
    revision: snapshot.revision,
    held: held.sort((a, b) => a.name.localeCompare(b.name)),
    queues: [...queues.entries()].map(([name, d]) => ({ name, ...d })),
    counters: [...counters.entries()].map(([name, value]) => ({ name, value })),
  };
}
