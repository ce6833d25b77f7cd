import { execFile } from 'node:child_process';
import type { EtcdctlResult } from '../etcd-cluster.js';
import { requestJson, type TlsMaterial } from './http-json.js';

interface MemberStatus {
  readonly memberId: string;
  readonly leader: string;
  readonly term: bigint;
}

/**
 * Finds which member is raft leader by asking every member its `/v3/maintenance/status` (etcd 3.4's JSON
 * gateway path). `memberIds` caches each index's raft id between calls, so a leader that is itself
 * unreachable right now can still be named from its followers' answers.
 *
 * When members disagree (during an election), the answer with the highest raft term wins: an older term's
 * leader is the one that was deposed.
 */
export async function findLeaderIndex(
  clientUrls: readonly string[],
  memberIds: (string | undefined)[],
  reachable: (i: number) => boolean = () => true,
  tls?: TlsMaterial,
): Promise<number | undefined> {
  const statuses = await Promise.all(
    clientUrls.map((url, i) => (reachable(i) ? status(url, tls) : undefined)),
  );
  let best: MemberStatus | undefined;
  for (const [i, answer] of statuses.entries()) {
    if (answer === undefined) continue;
    memberIds[i] = answer.memberId;
    if (answer.leader !== '0' && (best === undefined || answer.term > best.term)) best = answer;
  }
  if (best === undefined) return undefined;
  const index = memberIds.indexOf(best.leader);
  return index === -1 ? undefined : index;
}

// etcd 3.4 answers Status (like /health) without an auth token, so this works once auth is enabled too.
async function status(clientUrl: string, tls: TlsMaterial | undefined): Promise<MemberStatus | undefined> {
  try {
    const reply = await requestJson(`${clientUrl}/v3/maintenance/status`, {
      method: 'POST',
      body: {},
      timeout: 1_000,
      tls,
    });
    const body = reply.body as
      | { header?: { member_id?: string; raft_term?: string }; leader?: string }
      | undefined;
    const memberId = body?.header?.member_id;
    if (reply.status !== 200 || memberId === undefined) return undefined;
    return { memberId, leader: body?.leader ?? '0', term: BigInt(body?.header?.raft_term ?? '0') };
  } catch {
    return undefined;
  }
}

/**
 * Runs `etcdctl` with `ETCDCTL_API=3`, adding `--endpoints` and each of `defaultFlags` (`[name, value]`, such
 * as `['--cacert', path]` or `['--user', 'root:pw']`) unless `args` already has that flag, so a caller can
 * act as another user or present other certificates.
 */
export function runEtcdctl(
  bin: string,
  endpoints: readonly string[],
  args: readonly string[],
  timeout = 20_000,
  defaultFlags: readonly (readonly [string, string])[] = [],
): Promise<EtcdctlResult> {
  const has = (flag: string) => args.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  const added = [['--endpoints', endpoints.join(',')] as const, ...defaultFlags]
    .filter(([flag]) => !has(flag))
    .map(([flag, value]) => `${flag}=${value}`);
  const fullArgs = [...added, ...args];
  return new Promise<EtcdctlResult>((resolve, reject) => {
    execFile(
      bin,
      fullArgs,
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ stdout, stderr, code: 0 });
        // A numeric code is etcdctl's own exit status; a string code means it could not be started at all.
        if (typeof error.code === 'string') return reject(error);
        resolve({ stdout, stderr, code: typeof error.code === 'number' ? error.code : null });
      },
    );
  });
}
