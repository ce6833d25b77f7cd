import {
  assertArgument,
  idempotent,
  isDirectChild,
  raceSignal,
  rangeRequest,
  readPrefix,
  type Session,
  snapshotThenWatch,
  toBigInt,
  toKeyValue,
  validateName,
  type WaitOptions,
  waitScope,
} from '@coordkit/core';
import { ElectionEvents } from './election-events.js';
import { claimCandidacy } from './internal/active-campaigns.js';
import { runCampaign } from './internal/campaign.js';
import { LeaderTracker } from './internal/leader-tracker.js';
import { type LeaderInfo, toLeaderInfo } from './leader-info.js';
import { Leadership } from './leadership.js';

/** Options of {@link Election.observe}. */
export interface ObserveOptions {
  /** Stops observing: the loop then ends without error. Default: observe until the loop is left. */
  readonly signal?: AbortSignal;
}

/**
 * Leader election with fencing tokens, compatible with `etcdctl elect <name>` and etcd's Go
 * `concurrency.Election`: each candidate puts `<name>/<session lease id in hex>` (value: what it
 * proclaims) under its session lease, and the leader is the key with the smallest create revision
 * under `<name>/`. Each waiting candidate watches only the key just ahead of it (no herd), and a
 * leader that dies hands over when its lease ends (at most its session TTL).
 *
 * One session is one candidate per election: a second `campaign()` on the same session and name
 * while the first is waiting or leading (or after a failed `resign()`, until a retry succeeds)
 * rejects with `CONFLICT`.
 *
 * Names: the election owns every key under `<name>/`, so a name that is a `/`-prefix of another
 * election's name (`a` and `a/b`) makes the two interfere.
 */
export class Election {
  /** The session whose lease holds this candidate's key. */
  readonly session: Session;
  /** The election name: the key prefix `<name>/`. */
  readonly name: string;
  /** This session's candidate key: `<name>/<lease id in hex>`. */
  readonly key: string;
  /** Diagnostics: `'elected'`, `'deposed'`, `'leader'`. Not for control flow. */
  readonly events = new ElectionEvents();
  readonly #prefix: string;
  readonly #what: string;

  constructor(session: Session, name: string) {
    assertArgument(typeof session?.leaseIdHex === 'string', 'session', 'a Session from @coordkit/core');
    this.session = session;
    this.name = validateName(name, 'election');
    this.#prefix = `${name}/`;
    this.key = `${name}/${session.leaseIdHex}`;
    this.#what = `election "${name}"`;
  }

  /**
   * Campaigns with `value` and resolves with the {@link Leadership} once this candidate is the oldest
   * key in the election. Uncontended, that is one transaction. A key this session already had (a
   * restarted process resuming its lease with `Session.create(client, { leaseId })`) keeps its place
   * and fencing token; a different value is proclaimed on it first.
   *
   * Cancellation: when `signal` aborts, `timeout` (ms, default none) passes, or the session is lost
   * while waiting, the candidate key is deleted at once and the promise rejects with `signal.reason`,
   * a `TIMEOUT` CoordError, or the session's `SESSION_EXPIRED`/`SESSION_CLOSED`; it never resolves
   * with a leadership whose lease is not provably alive.
   */
  async campaign(value: string, options?: WaitOptions): Promise<Leadership> {
    assertArgument(typeof value === 'string', 'value', 'a string');
    using scope = waitScope(options, `${this.#what}: campaign`, this.session.signal);
    scope.signal.throwIfAborted();
    const release = claimCandidacy(this.session, this.name, this.#what);
    try {
      const elected = await runCampaign(
        { session: this.session, key: this.key, prefix: this.#prefix, value, what: this.#what },
        scope.signal,
      );
      const leadership: Leadership = new Leadership({
        session: this.session,
        key: this.key,
        value,
        fencingToken: elected.fencingToken,
        confirmedAt: elected.confirmedAt,
        what: this.#what,
        onFinished: release,
        onDeposed: (reason) => this.events.emit('deposed', leadership, reason),
      });
      this.events.emit('elected', leadership);
      return leadership;
    } catch (err) {
      release();
      throw err;
    }
  }

  /**
   * Reads who leads now, in one range read (the oldest key under `<name>/`); `undefined` when no
   * candidate is left. The answer can be stale by the time it is used: act through a Leadership.
   */
  /** Candidate keys sit directly under `<name>/`; deeper keys belong to other primitives. */
  #isCandidate(key: string): boolean {
    return key.startsWith(this.#prefix) && isDirectChild(key.slice(this.#prefix.length));
  }

  async leader(): Promise<LeaderInfo | undefined> {
    // A page, not one key: keys of another primitive nested under the prefix (`<name>/x/…`) are skipped.
    const request = rangeRequest(this.#prefix, { order: 'oldest-first', limit: 16 });
    const response = await idempotent(`${this.#what}: read leader`, () =>
      this.session.client.kv.range(request),
    );
    const raw = response.kvs.find((kv) => this.#isCandidate(kv.key.toString()));
    if (!raw && response.more) {
      const all = await readPrefix(this.session.client, this.#prefix, `${this.#what}: read leader`);
      const first = all.kvs
        .filter((kv) => this.#isCandidate(kv.key))
        .sort((a, b) => (a.createRevision < b.createRevision ? -1 : 1))[0];
      const leader = first ? toLeaderInfo(first, all.revision) : undefined;
      this.events.emit('leader', leader);
      return leader;
    }
    const leader = raw ? toLeaderInfo(toKeyValue(raw), toBigInt(response.header.revision)) : undefined;
    this.events.emit('leader', leader);
    return leader;
  }

  /**
   * Streams who leads: the current leader (or `undefined`) first, then every change in revision order:
   * a new leader, no leader, or the leader proclaiming a new value. One consistent snapshot, then one
   * prefix watch kept locally, so a leader change costs no read; after a compaction the watch re-reads
   * the prefix and the leader is re-derived. Never reports an older leader (lower fencing token)
   * after a newer one, nor the same state twice in a row; intermediate states inside one revision are
   * never seen, and a consumer that falls behind sees every state in order (they are buffered).
   * Leaving the loop, or aborting `signal`, stops the watch; the loop then ends without error.
   */
  async *observe(options: ObserveOptions = {}): AsyncGenerator<LeaderInfo | undefined, void, undefined> {
    const signal = options.signal ?? new AbortController().signal;
    if (signal.aborted) return;
    let started: Awaited<ReturnType<typeof snapshotThenWatch>>;
    try {
      started = await raceSignal(
        snapshotThenWatch(this.session.client, this.#prefix, { signal, resync: true }),
        signal,
      );
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    const { snapshot, changes } = started;
    try {
      const tracker = new LeaderTracker((key) => this.#isCandidate(key));
      tracker.reset(snapshot.kvs);
      const first = tracker.next(snapshot.revision);
      if (first.changed) yield this.#reported(first.leader);
      for await (const batch of changes) {
        tracker.apply(batch);
        const next = tracker.next(batch.revision);
        if (next.changed) yield this.#reported(next.leader);
      }
    } finally {
      changes.close();
    }
  }

  /**
   * Campaigns with `value`, runs `fn(leadership)` while leader, and resigns when `fn` returns or
   * throws. `fn` should stop when `leadership.signal` aborts and write through `leadership.txn()`.
   * `options` apply to the campaign, as in {@link Election.campaign}. Resolves with `fn`'s result;
   * if `fn` returned but the resign could not reach etcd, rejects with that `UNAVAILABLE` error (the
   * key then stays until the session ends), and `fn`'s own error wins over a failed resign.
   */
  async lead<T>(
    value: string,
    fn: (leadership: Leadership) => T | Promise<T>,
    options?: WaitOptions,
  ): Promise<T> {
    const leadership = await this.campaign(value, options);
    let result: T;
    try {
      result = await fn(leadership);
    } catch (err) {
      await leadership.resign().catch(() => undefined);
      throw err;
    }
    await leadership.resign();
    return result;
  }

  #reported(leader: LeaderInfo | undefined): LeaderInfo | undefined {
    this.events.emit('leader', leader);
    return leader;
  }
}
