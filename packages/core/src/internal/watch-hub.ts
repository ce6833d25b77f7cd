import type { Etcd3, IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';
import { CoordError, ErrorCodes } from '../errors.js';
import { toBigInt, toWire } from '../revision.js';
import { backoffDelay } from './clock.js';
import { toCoordError } from './etcd-errors.js';
import { HubWatcher, type WatchSink, type WatchSpec } from './hub-watcher.js';
import { confirmRollback, onRollback, raiseRevision } from './regression.js';
import { endStream } from './streams.js';

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

/**
 * Multiplexes every watcher of one client onto a single gRPC watch stream, and makes that stream
 * survive reconnects: a watcher re-created on a new stream resumes from the revision after the last
 * event it delivered (never from a response header, which during a catch-up is ahead of what was
 * sent), and anything at or below the last delivered revision is dropped, so consumers see every
 * revision once, in order (F3, F6, F10, F11).
 */
export class WatchHub {
  readonly #client: Etcd3;
  readonly #watchers = new Set<HubWatcher>();
  readonly #byId = new Map<string, HubWatcher>();
  /** Creates sent on the current stream, answered in order by etcd. */
  #awaitingCreated: HubWatcher[] = [];
  #stream: WatchStream | undefined;
  #connecting = false;
  #nextId = 1;
  #attempt = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(client: Etcd3) {
    this.#client = client;
    onRollback(client, (seen) => this.#onRollback(seen));
  }

  add(spec: WatchSpec, sink: WatchSink): HubWatcher {
    const watcher = new HubWatcher(spec, sink);
    this.#watchers.add(watcher);
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (this.#stream) this.#sendCreate(this.#stream, watcher);
    else void this.#connect();
    return watcher;
  }

  remove(watcher: HubWatcher): void {
    if (watcher.closed) return;
    watcher.closed = true;
    this.#watchers.delete(watcher);
    if (watcher.watchId !== undefined) {
      this.#byId.delete(watcher.watchId);
      this.#write({ cancel_request: { watch_id: watcher.watchId } });
    }
    // A watcher still awaiting its created reply is cancelled when that reply arrives.
    if (this.#watchers.size === 0) {
      // Keep the stream briefly: lock handoffs open and close watches in quick succession.
      this.#idleTimer = setTimeout(() => this.#closeIdleStream(), 2000);
      this.#idleTimer.unref();
    }
  }

  /** Ends the stream and every watcher (`CLOSED`): the client is closing. Idempotent. */
  shutdown(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#failAll(new CoordError(ErrorCodes.CLOSED, 'watch: the client was closed'));
    const stream = this.#stream;
    this.#stream = undefined;
    this.#awaitingCreated = [];
    this.#byId.clear();
    if (stream) endStream(stream);
  }

  #closeIdleStream(): void {
    if (this.#watchers.size > 0 || !this.#stream) return;
    const stream = this.#stream;
    this.#stream = undefined;
    this.#awaitingCreated = [];
    this.#byId.clear();
    endStream(stream);
  }

  #write(request: IWatchRequest): void {
    try {
      this.#stream?.write(request);
    } catch {
      // A broken stream reports itself through 'error'; the reconnect re-sends what matters.
    }
  }

  async #connect(): Promise<void> {
    if (this.#connecting || this.#stream || this.#watchers.size === 0) return;
    this.#connecting = true;
    let stream: WatchStream;
    try {
      stream = await this.#client.watchClient.watch();
    } catch (err) {
      this.#connecting = false;
      const error = toCoordError(err, 'watch: open stream', false);
      // A closed client or wrong credentials do not heal by retrying: fail the watchers instead of
      // reconnecting forever (every watcher of the hub shares the client's credentials).
      if (error.code === ErrorCodes.CLOSED || error.code === ErrorCodes.PERMISSION_DENIED) {
        return this.#failAll(error);
      }
      return this.#scheduleReconnect();
    }
    this.#connecting = false;
    this.#stream = stream;
    this.#awaitingCreated = [];
    this.#byId.clear();
    stream.on('data', (response) => this.#onResponse(stream, response));
    stream.on('error', () => this.#onBroken(stream));
    stream.on('end', () => this.#onBroken(stream));
    for (const watcher of this.#watchers) this.#sendCreate(stream, watcher);
  }

  #sendCreate(stream: WatchStream, watcher: HubWatcher): void {
    const id = String(this.#nextId++);
    this.#awaitingCreated.push(watcher);
    try {
      stream.write({
        create_request: {
          key: watcher.spec.key,
          ...(watcher.spec.rangeEnd ? { range_end: watcher.spec.rangeEnd } : {}),
          start_revision: toWire(watcher.nextRevision),
          prev_kv: watcher.spec.prevKv,
          progress_notify: true,
          watch_id: id,
        },
      });
    } catch {
      // Handled by the stream's 'error' event.
    }
  }

  #onBroken(stream: WatchStream): void {
    if (stream !== this.#stream) return;
    this.#stream = undefined;
    this.#awaitingCreated = [];
    this.#byId.clear();
    for (const watcher of this.#watchers) watcher.watchId = undefined;
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#watchers.size === 0) return;
    // Ref'd on purpose: a `for await` over a watch must keep the process alive between streams, as
    // the stream itself does while connected.
    setTimeout(() => void this.#connect(), backoffDelay(this.#attempt++, 25, 1000));
  }

  #failAll(error: CoordError): void {
    for (const watcher of [...this.#watchers]) {
      this.#watchers.delete(watcher);
      watcher.closed = true;
      watcher.sink.failed(error);
    }
  }

  #onResponse(stream: WatchStream, response: IWatchResponse): void {
    if (stream !== this.#stream) return;
    this.#attempt = 0;
    const id = String(response.watch_id);
    const headerRevision = toBigInt(response.header?.revision);
    if (response.created) {
      const watcher = this.#awaitingCreated.shift();
      if (!watcher) return;
      if (watcher.closed) {
        if (!response.canceled) this.#write({ cancel_request: { watch_id: id } });
        return;
      }
      if (response.canceled) {
        this.#cancelled(watcher, response);
        return;
      }
      watcher.watchId = id;
      this.#byId.set(id, watcher);
      // Re-created after a reconnect on a member whose revision is below what this watcher already
      // delivered: a lagging member, or a cluster rolled back to older data (F21). Until that is
      // told apart, events at reused revision numbers would be dropped as replays, so check now.
      if (watcher.createdOnce && headerRevision > 0n && headerRevision < watcher.nextRevision - 1n) {
        void confirmRollback(this.#client);
      }
      // A watch "from now" starts after the revision etcd reports at creation.
      if (watcher.nextRevision === 0n) watcher.nextRevision = headerRevision + 1n;
      if (!watcher.createdOnce) {
        watcher.createdOnce = true;
        watcher.sink.created(watcher.nextRevision - 1n);
      }
      // Events may share this response only in theory; fall through to deliver them.
    }
    const watcher = this.#byId.get(id);
    if (!watcher || watcher.closed) return;
    if (response.canceled) {
      this.#cancelled(watcher, response);
      return;
    }
    const events = response.events ?? [];
    if (events.length === 0) {
      // Progress notification: etcd 3.4 sends these only to synced watchers, so every event up to
      // the header revision has been delivered and a resume may start after it.
      if (!response.created && headerRevision >= watcher.nextRevision)
        watcher.nextRevision = headerRevision + 1n;
      return;
    }
    watcher.deliver(events, (revision) => raiseRevision(this.#client, revision));
  }

  /** A proven rollback (F21): every watcher that followed the old history fails, or re-lists if it asked to. */
  #onRollback(seen: bigint): void {
    for (const watcher of [...this.#watchers]) {
      if (!watcher.createdOnce) continue;
      this.#watchers.delete(watcher);
      if (watcher.watchId !== undefined) {
        this.#byId.delete(watcher.watchId);
        this.#write({ cancel_request: { watch_id: watcher.watchId } });
      }
      watcher.closed = true;
      watcher.sink.failed(
        new CoordError(
          ErrorCodes.REVISION_REGRESSED,
          `${watcher.spec.what}: etcd's revision went back below ${seen} (restored from older data); the history watched so far is gone`,
        ),
      );
    }
  }

  #cancelled(watcher: HubWatcher, response: IWatchResponse): void {
    const compactRevision = toBigInt(response.compact_revision);
    this.#watchers.delete(watcher);
    if (watcher.watchId !== undefined) this.#byId.delete(watcher.watchId);
    watcher.closed = true;
    const reason = response.cancel_reason || 'cancelled by etcd';
    if (compactRevision > 0n) {
      watcher.sink.failed(
        new CoordError(
          ErrorCodes.COMPACTED,
          `${watcher.spec.what}: revision ${watcher.nextRevision} was compacted (oldest available ${compactRevision})`,
          { compactRevision },
        ),
      );
      return;
    }
    watcher.sink.failed(toCoordError(new Error(reason), watcher.spec.what, false));
  }
}

const hubs = new WeakMap<Etcd3, WatchHub>();

/** Ends a client's watch stream and watchers, if it has any (used by the client's `close()`). */
export function shutdownHub(client: Etcd3): void {
  hubs.get(client)?.shutdown();
}

/** The one watch hub (one watch stream) of a client. */
export function hubOf(client: Etcd3): WatchHub {
  let hub = hubs.get(client);
  if (!hub) {
    hub = new WatchHub(client);
    hubs.set(client, hub);
  }
  return hub;
}
