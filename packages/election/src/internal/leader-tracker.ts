import type { WatchBatch } from '@coordkit/core';
import { type LeaderInfo, sameLeader, toLeaderInfo } from '../leader-info.js';

interface Candidate {
  readonly key: string;
  readonly value: Buffer;
  readonly createRevision: bigint;
  readonly lease?: string;
}

/**
 * Every candidate key of one election, kept locally from a snapshot plus its watch, so that an
 * observer derives the leader (the oldest key) without a read per change: a leader's deletion makes
 * the next-oldest candidate leader with no extra request, exactly as etcd orders it.
 */
export class LeaderTracker {
  readonly #candidates = new Map<string, Candidate>();
  #lastYielded: LeaderInfo | undefined;
  #yieldedAny = false;
  /** Highest fencing token ever reported: nothing older is reported after it (F11, F21). */
  #highestToken = 0n;
  readonly #isCandidate: (key: string) => boolean;

  /** `isCandidate` tells this election's keys from other primitives' keys nested under its prefix. */
  constructor(isCandidate: (key: string) => boolean) {
    this.#isCandidate = isCandidate;
  }

  /** Replaces the whole state (a snapshot, or a watch's resync batch after compaction). */
  reset(kvs: readonly Candidate[]): void {
    this.#candidates.clear();
    for (const kv of kvs) if (this.#isCandidate(kv.key)) this.#candidates.set(kv.key, kv);
  }

  /** Applies one revision's events (a transaction's changes arrive together). */
  apply(batch: WatchBatch): void {
    if (batch.resync) {
      this.reset(batch.events.map((event) => ({ ...event, value: event.value ?? Buffer.alloc(0) })));
      return;
    }
    for (const event of batch.events) {
      if (!this.#isCandidate(event.key)) continue;
      if (event.type === 'delete') {
        this.#candidates.delete(event.key);
      } else {
        this.#candidates.set(event.key, {
          key: event.key,
          value: event.value ?? Buffer.alloc(0),
          createRevision: event.createRevision,
          ...(event.lease === undefined ? {} : { lease: event.lease }),
        });
      }
    }
  }

  /**
   * The leader at `revision` if it differs from what was last reported, else `{ changed: false }`.
   * A leader older than one already reported (which only a replayed or regressed history could
   * produce) is never reported: observers must never see time go backwards.
   */
  next(revision: bigint): { changed: false } | { changed: true; leader: LeaderInfo | undefined } {
    let oldest: Candidate | undefined;
    for (const candidate of this.#candidates.values()) {
      if (!oldest || candidate.createRevision < oldest.createRevision) oldest = candidate;
    }
    const leader = oldest ? toLeaderInfo(oldest, revision) : undefined;
    if (leader && leader.fencingToken < this.#highestToken) return { changed: false };
    if (this.#yieldedAny && sameLeader(leader, this.#lastYielded)) return { changed: false };
    this.#yieldedAny = true;
    this.#lastYielded = leader;
    if (leader) this.#highestToken = leader.fencingToken;
    return { changed: true, leader };
  }
}
