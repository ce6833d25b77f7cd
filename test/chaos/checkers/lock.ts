import { type CheckResult, type History, result } from '../lib/history.js';
import { checkFencedWrites } from './fenced-writes.js';

/**
 * Lock checker. Expects from each holder process `acquire` (ok, `token`), then `write` ops (value: a unique
 * write id, `token`, and for ok writes the commit `revision`) committed through `handle.txn()`, and from the
 * harness one `truth` op listing every write key found in etcd.
 *
 * Checks: each token granted once; every write carries a token granted to its own process; acknowledged and
 * landed writes have non-decreasing tokens in commit (revision) order, one process per token, one write per
 * revision, so no two holders' guarded writes interleave; no write reported failed landed; no
 * acknowledged write is missing.
 */
export function checkLock(history: History): CheckResult {
  return result(checkFencedWrites(history, 'acquire', 'lock'));
}
