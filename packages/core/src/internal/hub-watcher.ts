import type { IEvent } from 'etcd3';
import type { CoordError } from '../errors.js';
import { toWatchEvent, type WatchBatch, type WatchEvent } from '../watch-event.js';

/** What one watcher asks etcd for. */
export interface WatchSpec {
  readonly key: Buffer;
  readonly rangeEnd?: Buffer;
  /** First revision wanted; 0n means "from now". */
  readonly startRevision: bigint;
  readonly prevKv: boolean;
  /** Names the watch in errors. */
  readonly what: string;
}

/** Where a hub delivers a watcher's output. Called synchronously, in order. */
export interface WatchSink {
  /** etcd confirmed the watcher; events after `revision` will be delivered. */
  created(revision: bigint): void;
  batch(batch: WatchBatch): void;
  /** The watcher ended for good (compaction, permission, client closed). */
  failed(error: CoordError): void;
}

/**
 * A watcher registered with a hub; it outlives streams and reconnects. It owns the rule that makes
 * a resumed watch exactly-once: deliver each revision once, as one batch, and never one at or below
 * the last delivered (a re-created watcher may replay them, F11).
 */
export class HubWatcher {
  /** The next revision the consumer has not seen: resume point after any reconnect. */
  nextRevision: bigint;
  watchId: string | undefined;
  createdOnce = false;
  closed = false;

  constructor(
    readonly spec: WatchSpec,
    readonly sink: WatchSink,
  ) {
    this.nextRevision = spec.startRevision;
  }

  /** Hands etcd's events to the sink, one batch per revision; `delivered` hears each batch's revision. */
  deliver(events: readonly IEvent[], delivered: (revision: bigint) => void): void {
    let current: WatchEvent[] = [];
    let currentRevision = -1n;
    const flush = () => {
      if (current.length === 0) return;
      delivered(currentRevision);
      this.nextRevision = currentRevision + 1n;
      this.sink.batch({ revision: currentRevision, events: current });
      current = [];
    };
    for (const raw of events) {
      const event = toWatchEvent(raw);
      // Anything at or below what was delivered is a replay after a reconnect (F11): drop it.
      if (event.revision < this.nextRevision) continue;
      if (event.revision !== currentRevision) {
        flush();
        currentRevision = event.revision;
      }
      current.push(event);
    }
    flush();
  }
}
