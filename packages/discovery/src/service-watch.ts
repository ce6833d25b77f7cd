import { CoordError, ErrorCodes, type EtcdClient, snapshotThenWatch, type WatchEvent } from '@coordkit/core';
import { ChangeQueue } from './internal/change-queue.js';
import { parseRegistration, type ServiceInstance } from './service-instance.js';

/** One change of a service's rotation. */
export interface ServiceChange {
  /** `up`: an instance entered rotation, or its registration changed while in it; `down`: it left (deregistered, expired, draining). */
  readonly type: 'up' | 'down';
  readonly instance: ServiceInstance;
}

/** Options of `ServiceRegistry.watch`. */
export interface ServiceWatchOptions {
  /** Closes the watch when aborted. */
  readonly signal?: AbortSignal;
  /** Called with each value that is not a registration (skipped) and with the error that ends the watch. Default: `process.emitWarning`. */
  readonly onError?: (error: CoordError) => void;
}

/** Options of {@link ServiceWatch.pick}. */
export interface PickOptions {
  /** `round-robin` (default) cycles through the instances in id order; `random` picks uniformly. */
  readonly strategy?: 'round-robin' | 'random';
}

/**
 * The live set of a service's instances: one consistent snapshot, then every change after it
 * (core's `snapshotThenWatch` with `resync`, so a compaction re-reads instead of failing).
 *
 * Order: changes come in revision order, and `instances()` always reflects a whole revision.
 * Loss: reconnects and member failures are invisible (core's watch resumes without gap); values that
 * are not registrations are reported through `onError` and skipped, never crash the watch; an
 * unrecoverable watch error is reported, ends every `changes()` loop with it, and freezes the set.
 * Cancel: `close()`, the signal or disposal stop the etcd watch and end every `changes()` loop.
 */
export class ServiceWatch implements AsyncDisposable {
  readonly service: string;
  /** Resolves once the first snapshot is applied; rejects if it cannot be read. */
  readonly ready: Promise<void>;
  readonly #prefix: string;
  readonly #client: EtcdClient;
  readonly #controller = new AbortController();
  readonly #onError: (error: CoordError) => void;
  readonly #instances = new Map<string, ServiceInstance>();
  readonly #listeners = new Set<ChangeQueue<ServiceChange>>();
  #inRotation: ServiceInstance[] = [];
  #nextPick = 0;
  #revision = 0n;
  #failure: CoordError | undefined;

  /** @internal Use `ServiceRegistry.watch`. */
  constructor(client: EtcdClient, prefix: string, service: string, options: ServiceWatchOptions = {}) {
    this.service = service;
    this.#client = client;
    this.#prefix = `${prefix}/${service}/`;
    this.#onError = options.onError ?? ((error) => process.emitWarning(error.message, 'CoordWarning'));
    const signal = options.signal;
    if (signal?.aborted) this.#controller.abort();
    else signal?.addEventListener('abort', () => this.close(), { once: true });
    this.ready = this.#run();
    this.ready.catch((err: unknown) => this.#fail(err));
  }

  /** The revision the current set reflects. */
  get revision(): bigint {
    return this.#revision;
  }

  /** The instances in rotation (registered and not draining), in id order. Empty before `ready`. */
  instances(): readonly ServiceInstance[] {
    return this.#inRotation;
  }

  /** Every registered instance, draining ones included, in id order. */
  allInstances(): readonly ServiceInstance[] {
    return [...this.#instances.values()].sort(byId);
  }

  /** An instance in rotation, round robin (default) or at random; `undefined` when there is none. */
  pick(options: PickOptions = {}): ServiceInstance | undefined {
    const instances = this.#inRotation;
    if (instances.length === 0) return undefined;
    if (options.strategy === 'random') return instances[Math.floor(Math.random() * instances.length)];
    const instance = instances[this.#nextPick % instances.length];
    this.#nextPick = (this.#nextPick + 1) % instances.length;
    return instance;
  }

  /**
   * Every change after this call, in revision order. Each call makes an independent loop; leaving
   * it (or `close()`) stops it. Changes are buffered until the loop reads them. After the watch
   * failed (e.g. `PERMISSION_DENIED`), a new loop throws that error at once.
   */
  changes(): AsyncIterable<ServiceChange> {
    const queue: ChangeQueue<ServiceChange> = new ChangeQueue(() => this.#listeners.delete(queue));
    // A loop started after the watch failed ends with that error at once instead of waiting forever.
    if (this.#failure !== undefined) queue.end(this.#failure);
    else if (this.#controller.signal.aborted) queue.end();
    else this.#listeners.add(queue);
    return queue;
  }

  /** Stops the watch and ends every `changes()` loop. Idempotent; never throws. */
  close(): void {
    this.#controller.abort();
    for (const listener of this.#listeners) listener.end();
    this.#listeners.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  async #run(): Promise<void> {
    const { snapshot, changes } = await snapshotThenWatch(this.#client, this.#prefix, {
      signal: this.#controller.signal,
      resync: true,
    });
    this.#replace(
      snapshot.revision,
      snapshot.kvs.map((kv) => ({ ...kv, revision: kv.modRevision })),
    );
    void this.#follow(changes);
  }

  async #follow(
    changes: AsyncIterable<{ revision: bigint; events: readonly WatchEvent[]; resync?: boolean }>,
  ) {
    try {
      for await (const batch of changes) {
        if (batch.resync) {
          this.#replace(
            batch.revision,
            batch.events.map((e) => ({
              key: e.key,
              value: e.value!,
              revision: e.revision,
              ...(e.lease ? { lease: e.lease } : {}),
            })),
          );
          continue;
        }
        const emitted: ServiceChange[] = [];
        for (const event of batch.events) {
          const before = this.#instances.get(event.key);
          const after =
            event.type === 'put'
              ? this.#parse(event.key, event.value!, event.revision, event.lease)
              : undefined;
          if (after) this.#instances.set(event.key, after);
          else this.#instances.delete(event.key);
          emitted.push(...transition(before, after));
        }
        this.#publish(batch.revision, emitted);
      }
    } catch (err) {
      this.#fail(err);
    }
  }

  /** Reports the error that ends the watch and ends every `changes()` loop with it. */
  #fail(err: unknown): void {
    if (this.#controller.signal.aborted) return;
    const error =
      err instanceof CoordError
        ? err
        : new CoordError(ErrorCodes.INTERNAL, `service "${this.service}": watch failed`, { cause: err });
    this.#failure = error;
    this.#onError(error);
    for (const listener of this.#listeners) listener.end(error);
    this.#listeners.clear();
  }

  /** Replaces the whole set (snapshot, or resync after compaction) and reports the difference. */
  #replace(
    revision: bigint,
    kvs: readonly { key: string; value: Buffer; revision: bigint; lease?: string }[],
  ): void {
    const next = new Map<string, ServiceInstance>();
    for (const kv of kvs) {
      const instance = this.#parse(kv.key, kv.value, kv.revision, kv.lease);
      if (instance) next.set(kv.key, instance);
    }
    const emitted: ServiceChange[] = [];
    for (const [key, before] of this.#instances)
      if (!next.has(key)) emitted.push(...transition(before, undefined));
    for (const [key, after] of next) emitted.push(...transition(this.#instances.get(key), after));
    this.#instances.clear();
    for (const [key, instance] of next) this.#instances.set(key, instance);
    this.#publish(revision, emitted);
  }

  #publish(revision: bigint, emitted: readonly ServiceChange[]): void {
    this.#revision = revision;
    this.#inRotation = [...this.#instances.values()].filter((i) => !i.draining).sort(byId);
    // One revision's changes in key order: etcd deletes a revoked lease's keys in no particular order.
    const ordered = [...emitted].sort((a, b) => (a.instance.key < b.instance.key ? -1 : 1));
    for (const change of ordered) for (const listener of this.#listeners) listener.push(change);
  }

  #parse(
    key: string,
    value: Buffer,
    revision: bigint,
    lease: string | undefined,
  ): ServiceInstance | undefined {
    // Only direct children are instances: `<prefix>/<service>/<id>`.
    if (key.slice(this.#prefix.length).includes('/')) return undefined;
    try {
      return parseRegistration(this.service, key, value, revision, lease);
    } catch (err) {
      this.#onError(err as CoordError);
      return undefined;
    }
  }
}

function byId(a: ServiceInstance, b: ServiceInstance): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : a.key < b.key ? -1 : 1;
}

/** The change(s) a watcher reports when an instance goes from `before` to `after`. */
function transition(
  before: ServiceInstance | undefined,
  after: ServiceInstance | undefined,
): ServiceChange[] {
  const wasUp = before !== undefined && !before.draining;
  const isUp = after !== undefined && !after.draining;
  if (isUp && (!wasUp || before.revision !== after.revision)) return [{ type: 'up', instance: after }];
  if (wasUp && !isUp) return [{ type: 'down', instance: after ?? before }];
  return [];
}
