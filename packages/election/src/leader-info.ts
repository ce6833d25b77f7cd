import type { KeyValue } from '@coordkit/core';

/** Who leads an election, as read from etcd. */
export interface LeaderInfo {
  /** The leader's candidate key, `<name>/<lease id in hex>`. */
  readonly key: string;
  /** The value the leader proclaimed (UTF-8). */
  readonly value: string;
  /**
   * The leader key's create revision: strictly increasing from one leader to the next of the same
   * election, so a resource that remembers the highest token seen can refuse a deposed leader.
   */
  readonly fencingToken: bigint;
  /** The leader's lease id, decimal; `''` for a key put without a lease (not a real candidate). */
  readonly leaseId: string;
  /** The store revision at which this was read or observed to be the leader. */
  readonly revision: bigint;
}

/** Builds a {@link LeaderInfo} from the leader's key as read or watched at `revision`. */
export function toLeaderInfo(
  kv: Pick<KeyValue, 'key' | 'value' | 'createRevision' | 'lease'>,
  revision: bigint,
): LeaderInfo {
  return {
    key: kv.key,
    value: kv.value.toString('utf8'),
    fencingToken: kv.createRevision,
    leaseId: kv.lease ?? '',
    revision,
  };
}

/** Whether two observations describe the same leadership state (same leader key, token and value). */
export function sameLeader(a: LeaderInfo | undefined, b: LeaderInfo | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.key === b.key && a.fencingToken === b.fencingToken && a.value === b.value;
}
