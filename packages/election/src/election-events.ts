import { EventEmitter } from 'node:events';
import type { LeaderInfo } from './leader-info.js';
import type { Leadership } from './leadership.js';

/** The diagnostics events of an {@link Election} and their arguments. */
export interface ElectionEventMap {
  /** A campaign of this Election object won. */
  elected: [leadership: Leadership];
  /** A leadership won through this Election object ended (lost or resigned); `reason` is its signal's. */
  deposed: [leadership: Leadership, reason: unknown];
  /** `leader()` read, or an `observe()` loop reported, this leader (`undefined`: none). */
  leader: [leader: LeaderInfo | undefined];
}

/**
 * Diagnostics only (logging, metrics): listeners run synchronously, their errors are not caught, and
 * nothing is buffered for late listeners. Use `campaign()`, `Leadership.signal` and `observe()` to act.
 */
export class ElectionEvents extends EventEmitter<ElectionEventMap> {}
