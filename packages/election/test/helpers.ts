import type { Session } from '@coordkit/core';
import type { LeaderInfo } from '@coordkit/election';
import { Election } from '@coordkit/election';
import type { Etcd3 } from 'etcd3';

export { aborted, type Contender, contender, isSettled } from '../../../test/support/etcd.js';

/** Counts the unary KV requests a client sends (a spy on the real client; requests still go to etcd). */
export function countRequests(client: Etcd3): { txn: number; range: number } {
  const counts = { txn: 0, range: 0 };
  const kv = client.kv;
  const txn = kv.txn.bind(kv);
  const range = kv.range.bind(kv);
  kv.txn = (...args: Parameters<typeof txn>) => {
    counts.txn++;
    return txn(...args);
  };
  kv.range = (...args: Parameters<typeof range>) => {
    counts.range++;
    return range(...args);
  };
  return counts;
}

/** The keys under `prefix`, oldest first, with their values. */
export async function keysUnder(
  client: Etcd3,
  prefix: string,
): Promise<Array<{ key: string; value: string }>> {
  const response = await client.getAll().prefix(prefix).sort('Create', 'Ascend').exec();
  return response.kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString() }));
}

/** An `observe()` loop running in the background, recording everything it reports. */
export interface ObserverLog extends AsyncDisposable {
  readonly history: Array<LeaderInfo | undefined>;
  /** Rejects if the loop failed. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/** Starts observing `name` through `session`, recording every reported state. */
export function recordObserver(session: Session, name: string): ObserverLog {
  const history: Array<LeaderInfo | undefined> = [];
  const controller = new AbortController();
  const done = (async () => {
    for await (const leader of new Election(session, name).observe({ signal: controller.signal })) {
      history.push(leader);
    }
  })();
  done.catch(() => undefined);
  const stop = async () => {
    controller.abort();
    await done;
  };
  return { history, done, stop, [Symbol.asyncDispose]: stop };
}

/** The observed states as `value@token`, `-` for no leader: compact to compare against expectations. */
export function describeHistory(history: ReadonlyArray<LeaderInfo | undefined>): string[] {
  return history.map((leader) => (leader ? `${leader.value}@${leader.fencingToken}` : '-'));
}

/** Checks an observer history never went back in time: revisions increase, fencing tokens never decrease. */
export function assertMonotonic(history: ReadonlyArray<LeaderInfo | undefined>): void {
  let lastRevision = 0n;
  let lastToken = 0n;
  for (const leader of history) {
    if (!leader) continue;
    if (leader.revision <= lastRevision)
      throw new Error(`revision went back: ${leader.revision} after ${lastRevision}`);
    if (leader.fencingToken < lastToken)
      throw new Error(`token went back: ${leader.fencingToken} after ${lastToken}`);
    lastRevision = leader.revision;
    lastToken = leader.fencingToken;
  }
}
