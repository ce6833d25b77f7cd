import type { EtcdCluster } from '@coordkit/testing';
import type { Etcd3 } from 'etcd3';
import type { ClientProcess } from './client-process.js';
import { chaosNow, type HistoryOp } from './history.js';
import { Prng } from './prng.js';

/** Faults on etcd members (and history), one at a time. */
export type MemberFault = 'kill-member' | 'kill-leader' | 'pause-member' | 'compact';
/** Faults on one client process or its connections, one at a time. */
export type ClientFault = 'blackhole' | 'reset' | 'delay' | 'pause-process' | 'kill-process';

/** Options of {@link runNemesis}. */
export interface NemesisOptions {
  readonly seed: number;
  /** How long to keep injecting faults, ms. */
  readonly durationMs: number;
  readonly cluster: EtcdCluster;
  readonly clients: readonly ClientProcess[];
  /** A client straight to the members (no proxy), for compaction. */
  readonly admin: Etcd3;
  /** Session TTL of the clients, ms: client faults are held sometimes shorter, sometimes longer. */
  readonly ttlMs: number;
  readonly memberFaults?: readonly MemberFault[];
  readonly clientFaults?: readonly ClientFault[];
  /** At most this many faults in all. Default unlimited (bounded by time). */
  readonly maxFaults?: number;
}

/** What the nemesis did: its ops (merged into the history) and a count per fault kind. */
export interface NemesisReport {
  readonly ops: HistoryOp[];
  readonly counts: Record<string, number>;
}

/**
 * Injects faults for `durationMs`, driven by a seeded PRNG: a member loop (kill / restart a member or the
 * raft leader, SIGSTOP / SIGCONT a member, compact history) and a client loop (blackhole, reset or delay
 * one client's connections, SIGSTOP it past its TTL, SIGKILL and restart it) run side by side, one fault
 * each at a time, each held for a random time and then healed. Whatever happens, everything is healed
 * before it resolves: members resumed and restarted, proxies healed, processes continued and restarted.
 */
export async function runNemesis(options: NemesisOptions): Promise<NemesisReport> {
  const prng = new Prng(options.seed);
  const memberPrng = prng.fork();
  const clientPrng = prng.fork();
  const ops: HistoryOp[] = [];
  const counts: Record<string, number> = {};
  const deadline = chaosNow() + options.durationMs;
  const maxFaults = options.maxFaults ?? Number.POSITIVE_INFINITY;
  let injected = 0;
  const pausedMembers = new Set<number>();
  const killedMembers = new Set<number>();
  const killedClients = new Set<ClientProcess>();
  const note = (op: string, value: unknown, extra: Partial<HistoryOp> = {}) =>
    ops.push({ process: 'nemesis', op, time: chaosNow(), outcome: 'ok', value, ...extra });
  const take = (kind: string) => {
    if (injected >= maxFaults) return false;
    injected++;
    counts[kind] = (counts[kind] ?? 0) + 1;
    return true;
  };
  // Pacing between faults is the schedule itself, not a wait for some condition.
  const pause = (ms: number) =>
    new Promise<void>((resolve) => setTimeout(resolve, Math.min(ms, Math.max(0, deadline - chaosNow()))));

  const memberLoop = async (kinds: readonly MemberFault[]) => {
    while (kinds.length > 0 && chaosNow() < deadline) {
      await pause(memberPrng.int(300, 1500));
      if (chaosNow() >= deadline) break;
      const kind = memberPrng.pick(kinds);
      if (!take(kind)) break;
      const hold = memberPrng.int(500, 3000);
      if (kind === 'compact') {
        const { header } = await options.admin.kv.range({ key: Buffer.from('\0') });
        await options.admin.kv.compact({ revision: header.revision }).catch(() => undefined);
        note('compact', { kind }, { revision: BigInt(header.revision) });
        continue;
      }
      let member = memberPrng.int(0, options.cluster.size);
      if (kind === 'kill-leader')
        member = (await options.cluster.leaderIndex().catch(() => undefined)) ?? member;
      const target = `member${member}`;
      note('fault-start', { kind, target });
      if (kind === 'pause-member') {
        options.cluster.pause(member);
        pausedMembers.add(member);
        await pause(hold);
        options.cluster.resume(member);
        pausedMembers.delete(member);
      } else {
        killedMembers.add(member);
        await options.cluster.kill(member);
        await pause(hold);
        await options.cluster.restart(member, { timeout: 30_000 });
        killedMembers.delete(member);
      }
      note('fault-end', { kind, target });
    }
  };

  const clientLoop = async (kinds: readonly ClientFault[]) => {
    while (kinds.length > 0 && options.clients.length > 0 && chaosNow() < deadline) {
      await pause(clientPrng.int(200, 1200));
      if (chaosNow() >= deadline) break;
      const kind = clientPrng.pick(kinds);
      const client = clientPrng.pick(options.clients);
      // Half the holds stay under the TTL (the client must keep what it holds), half go past it (it must lose it).
      const hold =
        clientPrng.next() < 0.5
          ? clientPrng.int(200, options.ttlMs / 2)
          : clientPrng.int(options.ttlMs + 300, options.ttlMs * 2);
      if (!take(kind)) break;
      const target = client.name;
      note('fault-start', { kind, target });
      switch (kind) {
        case 'reset':
          client.reset();
          break;
        case 'blackhole':
          client.blackhole();
          await pause(hold);
          client.heal();
          break;
        case 'delay':
          client.delay(clientPrng.int(100, 1500));
          await pause(hold);
          client.heal();
          break;
        case 'pause-process':
          client.pause();
          await pause(hold);
          client.resume();
          break;
        case 'kill-process':
          killedClients.add(client);
          await client.kill();
          await pause(clientPrng.int(100, 800));
          client.restart();
          killedClients.delete(client);
          break;
      }
      note('fault-end', { kind, target });
    }
  };

  try {
    await Promise.all([
      memberLoop(options.memberFaults ?? ['kill-member', 'kill-leader', 'pause-member', 'compact']),
      clientLoop(options.clientFaults ?? ['blackhole', 'reset', 'delay', 'pause-process', 'kill-process']),
    ]);
  } finally {
    for (const member of pausedMembers) options.cluster.resume(member);
    for (const member of killedMembers) await options.cluster.restart(member, { timeout: 30_000 });
    for (const client of options.clients) {
      client.heal();
      client.resume();
    }
    for (const client of killedClients) client.restart();
    note('healed', { kind: 'all' });
  }
  return { ops, counts };
}
