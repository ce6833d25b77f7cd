import type { CoordError } from '@coordkit/core';

/** Options of `Topic.subscribe`. */
export interface SubscribeOptions {
  /**
   * Where to start: `'latest'` (default) delivers what is published after the subscription is
   * `ready()`; `'earliest'` every retained message first; a revision, every message
   * published at or after it (`COMPACTED` if some of them are no longer retained).
   * Ignored by a `group` that already has a stored position.
   */
  readonly from?: bigint | 'latest' | 'earliest';
  /** Durable group name: the position is stored in etcd and a new subscription resumes after it. Default: none. */
  readonly group?: string;
  /** Ends the subscription: the loop then finishes without error. */
  readonly signal?: AbortSignal;
  /** With `group`: commit the position at most this often, ms. Default 100. */
  readonly commitInterval?: number;
  /** With `group`: commit at the latest after this many acknowledged messages. Default 100. */
  readonly commitEvery?: number;
  /**
   * Called with a `DECODE_FAILED` CoordError for a message key whose value is not JSON (written by
   * hand, or by something else): the key is skipped and delivery goes on. Default: a process warning.
   * Pass a function that throws to end the subscription instead.
   */
  readonly onUndecodable?: (error: CoordError) => void;
}
