import {
  idempotent,
  idempotentWrite,
  type KeyValue,
  ops,
  rangeRequest,
  type Session,
  toBigInt,
  toKeyValue,
} from '@coordkit/core';
import { nanoid } from 'nanoid';
import type { QueueLayout } from './layout.js';
import { decode, encode, type IndexEntry, type InflightRecord, type JobRecord } from './records.js';
import { setAsideUndecodable } from './set-aside.js';

/** How many ready keys a consumer reads ahead; a claim picks among them (see `#pick`). */
export const READ_AHEAD = 64;
/** How many colours ready keys are spread over for contending consumers. */
const COLOURS = 16;

function colourOf(key: string): number {
  let hash = 0;
  for (let i = key.length - 8; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) | 0;
  return Math.abs(hash) % COLOURS;
}

type TxnResponse = Awaited<ReturnType<Session['client']['kv']['txn']>>;

/** A ready key in view; its value is decoded only if it is picked (most never are). */
interface Candidate {
  readonly key: string;
  readonly createRevision: bigint;
  readonly modRevision: bigint;
  readonly value: Buffer;
}

/** A delivery this consumer now holds. */
export interface Claimed {
  readonly record: InflightRecord;
  /** `undefined` if the job record was deleted behind the queue's back. */
  readonly job: JobRecord | undefined;
  readonly claimKey: string;
  /** Create revision of the claim key: what ack and nack compare against. */
  readonly claimRevision: bigint;
}

/** The outcome of one claim attempt: a job, or "nothing ready as of `revision`". */
export type ClaimResult =
  | { readonly claimed: Claimed }
  | { readonly claimed?: undefined; readonly revision: bigint };

/**
 * Takes jobs off the ready index. Each claim is one transaction that moves the job from its ready
 * key to an inflight record plus a claim under the session lease, guarded by the ready key being
 * unchanged (so two consumers never both get it) and by no key having appeared ahead of it since it
 * was read (so a lone consumer gets exactly the head). Both branches of the transaction re-read the
 * first {@link READ_AHEAD} ready keys, so a consumer under load needs one transaction per job.
 * A consumer picks the head when uncontended and, once it has lost a race, keys of its own colour
 * after collisions, so many consumers do not all fight over the head.
 */
export class Claimer {
  readonly #session: Session;
  readonly #layout: QueueLayout;
  readonly #visibilityTimeout: number;
  #candidates: readonly Candidate[] = [];
  #readRevision = 0n;
  #known = false;
  /** The colour of ready keys this consumer prefers; -1 (the head) until it loses a race. */
  #colour = -1;
  readonly #busy = new Set<string>();
  readonly #pending = new Set<Promise<unknown>>();

  constructor(session: Session, layout: QueueLayout, visibilityTimeout: number) {
    this.#session = session;
    this.#layout = layout;
    this.#visibilityTimeout = visibilityTimeout;
  }

  /** Claims one ready job, or reports that none was claimable at some revision. */
  async tryClaim(signal?: AbortSignal): Promise<ClaimResult> {
    if (!this.#known) await this.#refresh(signal);
    for (;;) {
      signal?.throwIfAborted();
      const candidate = this.#pick();
      if (!candidate) {
        // Every candidate is being claimed by another call of this process: see how those end.
        if (this.#pending.size > 0) {
          await Promise.race(this.#pending);
          continue;
        }
        return { revision: this.#readRevision };
      }
      const entry = this.#decode(candidate);
      if (!entry) continue;
      this.#busy.add(candidate.key);
      const attempt = this.#claim(candidate, entry, signal);
      this.#pending.add(attempt);
      try {
        const claimed = await attempt;
        if (claimed) return { claimed };
        // Lost a race: take another random colour and keep it, so that contending consumers settle on
        // different colours (as the counter's sticky shards do) and stop competing for the same keys,
        // however stale their view; a consumer that never collides keeps taking the head (strict FIFO).
        this.#colour = Math.floor(Math.random() * COLOURS);
      } finally {
        this.#busy.delete(candidate.key);
        this.#pending.delete(attempt);
      }
    }
  }

  /** Forgets the cached view of the ready index (read again on the next claim). */
  invalidate(): void {
    this.#known = false;
  }

  /**
   * Takes every ready key at `revision` (the ready watch's view) as the view to claim from, instead of
   * reading it; ignored if the view held is newer.
   */
  offer(revision: bigint, kvs: readonly KeyValue[]): void {
    const first = [...kvs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.#remember(revision, first.slice(0, READ_AHEAD));
  }

  /**
   * Whether a claim from the current view would take a key of another colour: only once this
   * consumer has lost a race (others compete with it), and no ready key is of its colour.
   */
  wouldTakeOthers(): boolean {
    if (this.#colour < 0) return false;
    const eligible = this.#eligible();
    return eligible.length > 0 && !eligible.some((c) => colourOf(c.key) === this.#colour);
  }

  /** The keys a claim may take: only the best priority present, so a lower one never overtakes it. */
  #eligible(): Candidate[] {
    const head = this.#candidates[0];
    if (!head) return [];
    const band = head.key.slice(0, this.#layout.ready.length + 5);
    return this.#candidates.filter((c) => c.key.startsWith(band) && !this.#busy.has(c.key));
  }

  #pick(): Candidate | undefined {
    const eligible = this.#eligible();
    if (eligible.length === 0) return undefined;
    if (this.#colour < 0) return eligible[0];
    // A key's colour is fixed by its name, so two consumers of different colours never pick the same
    // key even from views of different ages; with none of mine in view, any key will do.
    return (
      eligible.find((c) => colourOf(c.key) === this.#colour) ??
      eligible[Math.floor(Math.random() * eligible.length)]
    );
  }

  async #refresh(signal?: AbortSignal): Promise<void> {
    const response = await idempotent(
      `queue "${this.#layout.root}": read ready jobs`,
      () => this.#session.client.kv.range(rangeRequest(this.#layout.ready, { limit: READ_AHEAD })),
      signal,
    );
    this.#remember(toBigInt(response.header.revision), response.kvs.map(toKeyValue));
  }

  #remember(revision: bigint, kvs: readonly KeyValue[]): void {
    if (revision < this.#readRevision) return;
    this.#readRevision = revision;
    this.#known = true;
    this.#candidates = kvs;
  }

  #decode(candidate: Candidate): IndexEntry | undefined {
    try {
      return decode<IndexEntry>(candidate.value, candidate.key);
    } catch (err) {
      // A key the queue did not write: set it aside rather than let it stop every consumer.
      this.#candidates = this.#candidates.filter((c) => c !== candidate);
      const { key, modRevision, value } = candidate;
      void setAsideUndecodable(this.#session, this.#layout, key, modRevision, value, err);
      return undefined;
    }
  }

  async #claim(candidate: Candidate, entry: IndexEntry, signal?: AbortSignal): Promise<Claimed | undefined> {
    const layout = this.#layout;
    const claimKey = layout.claim(entry.id);
    const jobKey = layout.job(entry.id);
    const record: InflightRecord = {
      ...entry,
      attempt: entry.attempt + 1,
      consumer: this.#session.leaseIdHex,
      token: nanoid(),
      deadline: Date.now() + this.#visibilityTimeout,
    };
    const claimValue = encode({
      consumer: record.consumer,
      attempt: record.attempt,
      token: record.token,
      deadline: record.deadline,
    });
    const readAhead = ops.range(layout.ready, { limit: READ_AHEAD });
    const seenAt = this.#readRevision;
    const response: TxnResponse = await idempotentWrite(
      `queue "${layout.root}": claim job ${entry.id}`,
      () =>
        this.#session.client.kv.txn({
          compare: [
            ops.createRevisionIs(candidate.key, candidate.createRevision),
            ops.modRevisionBelow(layout.ready, seenAt + 1n, Buffer.from(candidate.key)),
          ],
          success: [
            ops.delete(candidate.key),
            ops.put(layout.inflightRecord(entry.id), encode(record)),
            ops.put(claimKey, claimValue, this.#session.leaseId),
            ops.get(jobKey),
            readAhead,
          ],
          failure: [readAhead, ops.get(claimKey), ops.get(jobKey)],
        }),
      signal,
      candidate.key,
    );
    const revision = toBigInt(response.header.revision);
    const kvsAt = (i: number) => (response.responses[i]?.response_range?.kvs ?? []).map(toKeyValue);
    const [aheadAt, claimAt, jobAt] = response.succeeded ? [4, 2, 3] : [0, 1, 2];
    this.#remember(revision, kvsAt(aheadAt));
    const claim = response.succeeded ? undefined : kvsAt(claimAt)[0];
    if (!response.succeeded) {
      // A retried claim whose first attempt applied finds its own token: the job is ours after all.
      if (!claim || decode<{ token?: string }>(claim.value, claimKey).token !== record.token)
        return undefined;
    }
    const jobKv = kvsAt(jobAt)[0];
    const job = jobKv ? decode<JobRecord>(jobKv.value, jobKey) : undefined;
    // The put's revision is the txn's revision; a failure branch found the claim itself.
    return { record, job, claimKey, claimRevision: claim?.createRevision ?? revision };
  }
}
