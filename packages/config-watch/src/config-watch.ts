import {
  assertArgument,
  CoordError,
  ErrorCodes,
  snapshotThenWatch,
  toCoordError,
  type Watch,
  type WatchBatch,
} from '@coordkit/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { type Evaluator, evaluate } from './internal/evaluate.js';
import { FanOut } from './internal/fan-out.js';
import { isPlainObject, normalizePrefix } from './internal/paths.js';
import { RawState } from './internal/raw-state.js';
import { describeIssues, invalidConfig, warn } from './internal/reports.js';
import { checkWouldBeConfig, encodeEntries } from './internal/set-entries.js';
import { writeEntries } from './internal/write-entries.js';
import type {
  ConfigChange,
  ConfigErrorReport,
  ConfigWatchOptions,
  EtcdClient,
  SetOptions,
  WriteResult,
} from './types.js';

/**
 * A typed, validated, hot-reloaded view of every key under an etcd prefix: `db/pool/max` under the
 * prefix is `value.db.pool.max`.
 *
 * Ordering and atomicity: updates are applied one etcd revision at a time, in revision order, so a
 * transaction that changes several keys is one change and a reader of `value` never sees half of it.
 * An update that fails validation is reported through `onError` and not applied: `value` keeps the
 * last valid config, while the stored state keeps advancing so a later fix applies cleanly. After a
 * compaction or long disconnect the watcher re-reads the prefix and emits ONE change for the
 * difference. Loss: if the watch fails for good (for example permission denied), every `changes()`
 * loop throws that error and the watcher closes, keeping its last `value`.
 */
export class ConfigWatch<T = Record<string, unknown>> implements AsyncDisposable {
  /** The watched prefix, always ending with `/`. */
  readonly prefix: string;
  readonly #client: EtcdClient;
  readonly #evaluator: Evaluator<T>;
  readonly #onError: (report: ConfigErrorReport) => void;
  readonly #raw: RawState;
  readonly #changes: FanOut<ConfigChange<T>>;
  readonly #watch: Watch;
  readonly #reportedIgnored = new Set<string>();
  readonly #pump: Promise<void>;
  #value: T;
  #revision: bigint;
  #closed: CoordError | undefined;

  /**
   * Reads one consistent snapshot of `prefix`, validates it, and starts watching from the revision
   * after it (nothing is missed in between). Rejects with `DECODE_FAILED` (carrying `issues`) when the
   * stored config is invalid, since there is then no valid config to start from; with `INVALID_ARGUMENT`
   * for bad options; with `signal.reason` when aborted.
   */
  static async open<T = Record<string, unknown>>(
    client: EtcdClient,
    prefix: string,
    options: ConfigWatchOptions<T> = {},
  ): Promise<ConfigWatch<T>> {
    assertArgument(typeof client === 'object' && client !== null, 'client', 'an etcd client');
    const normalized = normalizePrefix(prefix);
    const schema = options.schema;
    assertArgument(
      schema === undefined || typeof schema?.['~standard']?.validate === 'function',
      'schema',
      'a Standard Schema v1 validator (with ["~standard"].validate)',
    );
    assertArgument(
      options.defaults === undefined || isPlainObject(options.defaults),
      'defaults',
      'a plain object',
    );
    assertArgument(
      options.onError === undefined || typeof options.onError === 'function',
      'onError',
      'a function',
    );
    options.signal?.throwIfAborted();
    const evaluator: Evaluator<T> = { schema, defaults: options.defaults };
    const { snapshot, changes } = await snapshotThenWatch(client, normalized, {
      resync: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const raw = new RawState(normalized, snapshot);
    const evaluation = await evaluate(evaluator, raw.current);
    raw.commit();
    if (!evaluation.ok) {
      changes.close();
      throw invalidConfig(normalized, snapshot.revision, evaluation.issues);
    }
    const watcher = new ConfigWatch<T>(
      client,
      normalized,
      options,
      evaluator,
      raw,
      changes,
      evaluation.value,
    );
    watcher.#reportIgnored(evaluation.ignored, snapshot.revision);
    return watcher;
  }

  private constructor(
    client: EtcdClient,
    prefix: string,
    options: ConfigWatchOptions<T>,
    evaluator: Evaluator<T>,
    raw: RawState,
    watch: Watch,
    value: T,
  ) {
    this.#client = client;
    this.prefix = prefix;
    this.#evaluator = evaluator;
    this.#onError = options.onError ?? warn;
    this.#raw = raw;
    this.#watch = watch;
    this.#value = value;
    this.#revision = raw.revision;
    this.#changes = new FanOut();
    this.#pump = this.#run();
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = () => void this.close();
      signal.addEventListener('abort', onAbort, { once: true });
      // Detach once stopped for any reason, so a long-lived signal does not keep this watcher alive.
      void this.#pump.then(() => signal.removeEventListener('abort', onAbort));
    }
  }

  /** The last valid config: defaults merged under the stored keys, then the schema's output. */
  get value(): T {
    return this.#value;
  }

  /** The etcd revision `value` was read at (an invalid later update does not advance it). */
  get revision(): bigint {
    return this.#revision;
  }

  /**
   * Every applied change from now on, in revision order, one per revision (a multi-key transaction is
   * one change). Each call is an independent consumer with its own queue; leaving its loop detaches
   * only it. The loop ends when the watcher is closed, and throws if the watch fails for good.
   */
  changes(): AsyncIterableIterator<ConfigChange<T>> & AsyncDisposable {
    return this.#changes.subscribe();
  }

  /**
   * Writes several keys in ONE transaction (`undefined` deletes the key): strings are stored raw
   * (JSON-quoted only when they would otherwise read back as another type), anything else as JSON.
   * The config these writes would produce (from the newest state this watcher knows) is validated
   * first: invalid, or a path that would shadow or be shadowed, rejects with `INVALID_ARGUMENT` (with
   * `issues`) and nothing is written. With `ifRevision`, it writes only if no key under the prefix
   * was put after that revision, else `CONFLICT`; etcd cannot compare deletes, so a delete after
   * `ifRevision` is a `CONFLICT` only once this watcher has seen it. A lost reply is `UNKNOWN_OUTCOME`
   * (never re-sent). `value` reflects the write once the watch delivers it.
   */
  async set(entries: Readonly<Record<string, unknown>>, options: SetOptions = {}): Promise<WriteResult> {
    const { ifRevision } = options;
    assertArgument(
      ifRevision === undefined || (typeof ifRevision === 'bigint' && ifRevision >= 0n),
      'ifRevision',
      'a bigint revision >= 0',
    );
    const encoded = encodeEntries(entries);
    this.#throwIfClosed();
    await checkWouldBeConfig(this.#evaluator, this.#raw.current, encoded, this.prefix);
    if (ifRevision !== undefined && this.#raw.lastDeleteRevision > ifRevision) {
      throw new CoordError(
        ErrorCodes.CONFLICT,
        `config "${this.prefix}": set: a key was deleted at revision ${this.#raw.lastDeleteRevision}, after ${ifRevision}; nothing was written`,
        { key: this.prefix, current: this.#raw.lastDeleteRevision },
      );
    }
    return writeEntries(this.#client, this.prefix, encoded, {
      ifRevision,
      signal: options.signal,
      what: `config "${this.prefix}": set`,
    });
  }

  /** Stops the watch and ends every `changes()` loop; `value` stays readable. Idempotent, never throws. */
  async close(): Promise<void> {
    this.#closed ??= new CoordError(ErrorCodes.CLOSED, `config "${this.prefix}" is closed`);
    this.#watch.close();
    await this.#pump;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #run(): Promise<void> {
    try {
      for await (const batch of this.#watch) await this.#apply(batch);
      this.#changes.end();
    } catch (err) {
      const error = toCoordError(err, `config "${this.prefix}": watch`, false, this.prefix);
      this.#closed ??= error;
      this.#changes.fail(error);
    }
  }

  async #apply(batch: WatchBatch): Promise<void> {
    this.#raw.advance(batch);
    const evaluation = await evaluate(this.#evaluator, this.#raw.current);
    if (!evaluation.ok) {
      this.#report(batch.revision, evaluation.issues, false);
      return;
    }
    const changed = this.#raw.commit();
    this.#reportIgnored(evaluation.ignored, batch.revision);
    const previous = this.#value;
    this.#value = evaluation.value;
    this.#revision = batch.revision;
    if (changed.length > 0) {
      this.#changes.publish({ value: evaluation.value, previous, revision: batch.revision, changed });
    }
  }

  /** Reports each left-out key once while it stays left out (again if it recurs later). */
  #reportIgnored(ignored: readonly StandardSchemaV1.Issue[], revision: bigint): void {
    const current = new Set(ignored.map((issue) => issue.message));
    for (const message of this.#reportedIgnored)
      if (!current.has(message)) this.#reportedIgnored.delete(message);
    const fresh = ignored.filter((issue) => !this.#reportedIgnored.has(issue.message));
    for (const issue of fresh) this.#reportedIgnored.add(issue.message);
    if (fresh.length > 0) this.#report(revision, fresh, true);
  }

  #report(revision: bigint, issues: readonly StandardSchemaV1.Issue[], applied: boolean): void {
    const error = applied
      ? new CoordError(
          ErrorCodes.DECODE_FAILED,
          `config "${this.prefix}" at revision ${revision}: applied without ${describeIssues(issues)}`,
          { issues, key: this.prefix },
        )
      : invalidConfig(this.prefix, revision, issues);
    try {
      this.#onError({ revision, issues, error, applied });
    } catch {
      // A failing callback must not stop the watcher; the report is advisory.
    }
  }

  #throwIfClosed(): void {
    if (this.#closed !== undefined) {
      throw new CoordError(ErrorCodes.CLOSED, `config "${this.prefix}" is closed`, { cause: this.#closed });
    }
  }
}
