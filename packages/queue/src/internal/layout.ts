import { assertArgument } from '@coordkit/core';

/** Highest and lowest accepted `priority`; higher is served first. */
export const MAX_PRIORITY = 1000;
export const MIN_PRIORITY = -1000;

/** Job ids become key segments, so they are restricted to characters that need no escaping. */
const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Validates a caller-chosen job id; `what` names the argument in the error. */
export function validateJobId(id: unknown, what: string): string {
  assertArgument(typeof id === 'string' && ID_PATTERN.test(id), what, '1-128 characters of [A-Za-z0-9._:-]');
  return id;
}

/** Zero-pads a non-negative integer so that key order equals numeric order. */
export function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/**
 * The queue's key layout under `<name>/` (see the README). Job records carry no lease so that they
 * survive every crash; only `inflight/<id>/claim` is attached to the consumer's session lease.
 */
export class QueueLayout {
  readonly root: string;
  readonly jobs: string;
  readonly ready: string;
  readonly delayed: string;
  readonly inflight: string;
  readonly dead: string;
  /** `enqueued/<id>`: short-lived markers that stop a late duplicate of an enqueue (see enqueue-txn). */
  readonly enqueued: string;

  constructor(name: string) {
    this.root = `${name}/`;
    this.jobs = `${name}/jobs/`;
    this.ready = `${name}/ready/`;
    this.delayed = `${name}/delayed/`;
    this.inflight = `${name}/inflight/`;
    this.dead = `${name}/dead/`;
    this.enqueued = `${name}/enqueued/`;
  }

  enqueuedMarker(id: string): string {
    return `${this.enqueued}${id}`;
  }

  job(id: string): string {
    return `${this.jobs}${id}`;
  }

  /** Higher priority sorts first: the segment is `MAX_PRIORITY - priority`, padded. */
  readyKey(priority: number, seq: string): string {
    return `${this.ready}${pad(MAX_PRIORITY - priority, 4)}/${seq}`;
  }

  /** `readyAt` is epoch ms; 15 digits keep key order equal to time order for any realistic date. */
  delayedKey(readyAt: number, id: string): string {
    return `${this.delayed}${pad(readyAt, 15)}/${id}`;
  }

  /** The exclusive end of the delayed keys due at or before `now`. */
  delayedDueEnd(now: number): string {
    return `${this.delayed}${pad(now + 1, 15)}/`;
  }

  readyAtOf(delayedKey: string): number {
    return Number(delayedKey.slice(this.delayed.length, this.delayed.length + 15));
  }

  inflightRecord(id: string): string {
    return `${this.inflight}${id}`;
  }

  claim(id: string): string {
    return `${this.inflight}${id}/claim`;
  }

  /** For a key under `inflight/`: the job id and whether it is the leased claim or the durable record. */
  parseInflight(key: string): { id: string; isClaim: boolean } | undefined {
    if (!key.startsWith(this.inflight)) return undefined;
    const rest = key.slice(this.inflight.length);
    const slash = rest.indexOf('/');
    if (slash < 0) return { id: rest, isClaim: false };
    return rest.slice(slash) === '/claim' ? { id: rest.slice(0, slash), isClaim: true } : undefined;
  }

  deadKey(id: string): string {
    return `${this.dead}${id}`;
  }
}

let lastMs = 0;
let counter = 0;

/**
 * A sequence that sorts in creation order within this process, even if the wall clock steps back
 * (a hybrid logical clock: never below the last value handed out), and roughly in time order across
 * processes. The random tail keeps two processes' sequences distinct.
 */
export function nextSequence(randomTail: string): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else if (++counter > 999_999) {
    lastMs += 1;
    counter = 0;
  }
  return `${pad(lastMs, 15)}-${pad(counter, 6)}-${randomTail}`;
}
