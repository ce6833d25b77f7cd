import type { CoordError } from '@coordkit/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';

/** The etcd client that `createClient` from `@coordkit/core` returns. */
export type { EtcdClient } from '@coordkit/core';

/** A config object with every level optional, as `defaults` may give it. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** Options of {@link ConfigWatch.open}. */
export interface ConfigWatchOptions<T> {
  /**
   * Any Standard Schema v1 validator (zod 4, valibot, arktype...) applied to the whole config object
   * after defaults are merged; its output becomes `value`. Default: none, `value` is the merged object.
   */
  readonly schema?: StandardSchemaV1<unknown, T>;
  /** Values for keys missing in etcd, deep-merged under the stored ones (etcd wins). Default: none. */
  readonly defaults?: DeepPartial<NoInfer<T>>;
  /** Closes the watcher when aborted, like `close()`. Default: none. */
  readonly signal?: AbortSignal;
  /**
   * Called with every update that was rejected (failed validation: `applied: false`) or applied with keys
   * left out (conflicting or unmappable paths: `applied: true`), in revision order. A throwing callback is
   * ignored. Default: emits a Node process warning (`CoordkitConfigWarning`).
   */
  readonly onError?: (report: ConfigErrorReport) => void;
}

/** One applied update of the config. */
export interface ConfigChange<T> {
  /** The new config. */
  readonly value: T;
  /** The config it replaced. */
  readonly previous: T;
  /** The etcd revision the new config was read at. */
  readonly revision: bigint;
  /** Key paths (relative to the prefix, e.g. `db/pool/max`) whose stored value differs from `previous`'s, sorted. */
  readonly changed: readonly string[];
}

/** A problem with the stored config at one revision, as given to `onError`. */
export interface ConfigErrorReport {
  /** The etcd revision of the update. */
  readonly revision: bigint;
  /** What is wrong: the schema's issues, or one issue per key left out. */
  readonly issues: readonly StandardSchemaV1.Issue[];
  /** A `DECODE_FAILED` CoordError describing the problem and carrying the same `issues`. */
  readonly error: CoordError;
  /** False: the update was not applied (`value` kept the last valid config). True: applied without the keys named. */
  readonly applied: boolean;
}

/** Options of {@link ConfigWatch.set}. */
export interface SetOptions {
  /**
   * Write only if no key under the prefix was put after this revision (typically `watcher.revision`),
   * else fail with `CONFLICT`. Default: write unconditionally.
   */
  readonly ifRevision?: bigint;
  /** Cancels the write while it has not been sent. Default: none. */
  readonly signal?: AbortSignal;
}

/** What a committed write reports. */
export interface WriteResult {
  /** The etcd revision at which the write took effect. */
  readonly revision: bigint;
}
