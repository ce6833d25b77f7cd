import type { IEvent, IKeyValue } from 'etcd3';
import { toBigInt } from './revision.js';

/** One change to one key, as a watch reports it. */
export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** The new value; `undefined` for a delete. */
  readonly value: Buffer | undefined;
  /** The revision of the change (the key's mod revision). */
  readonly revision: bigint;
  /** The key's create revision (0 for a delete). */
  readonly createRevision: bigint;
  /** The key's version after the change (0 for a delete). */
  readonly version: bigint;
  /** The lease the key is attached to, decimal, when it has one. */
  readonly lease?: string;
  /** The key as it was before the change, when the watch asked for `prevKv`. */
  readonly prev?: KeyValue;
}

/** All events of one etcd revision: a transaction's changes always arrive together. */
export interface WatchBatch {
  readonly revision: bigint;
  readonly events: readonly WatchEvent[];
  /**
   * True when history was compacted and the watch, asked to resync, re-read the current state instead:
   * `events` then holds one `put` per key that exists at `revision`, and replaces everything before.
   */
  readonly resync?: boolean;
}

/** A key and its metadata, read from etcd. */
export interface KeyValue {
  readonly key: string;
  readonly value: Buffer;
  readonly createRevision: bigint;
  readonly modRevision: bigint;
  readonly version: bigint;
  /** Decimal lease id, when the key is attached to one. */
  readonly lease?: string;
}

/** Converts etcd3's wire key-value (int64 as strings) to a {@link KeyValue}. */
export function toKeyValue(kv: IKeyValue): KeyValue {
  const lease = kv.lease !== undefined && String(kv.lease) !== '0' ? String(kv.lease) : undefined;
  return {
    key: kv.key.toString(),
    value: kv.value,
    createRevision: toBigInt(kv.create_revision),
    modRevision: toBigInt(kv.mod_revision),
    version: toBigInt(kv.version),
    ...(lease === undefined ? {} : { lease }),
  };
}

/** Converts one etcd3 watch event to a {@link WatchEvent}. */
export function toWatchEvent(raw: IEvent): WatchEvent {
  // Hot path (fan-out): build the object directly rather than through spreads.
  const kv = raw.kv;
  const isPut = raw.type === 'Put';
  const event: { -readonly [K in keyof WatchEvent]: WatchEvent[K] } = {
    type: isPut ? 'put' : 'delete',
    key: kv.key.toString(),
    value: isPut ? kv.value : undefined,
    revision: toBigInt(kv.mod_revision),
    createRevision: toBigInt(kv.create_revision),
    version: toBigInt(kv.version),
  };
  const lease = kv.lease === undefined ? '0' : String(kv.lease);
  if (lease !== '0') event.lease = lease;
  if (raw.prev_kv) event.prev = toKeyValue(raw.prev_kv);
  return event;
}
