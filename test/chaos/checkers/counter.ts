import { type CheckResult, type History, result } from '../lib/history.js';

/**
 * Counter checker. Expects `add` ops (`value`: the delta as a string, and for ok ones `revision`-free
 * `returned`: the value right after the add, as a string) and one `truth` op whose value is
 * `{ final: string }`, the counter read after every client stopped and every fault healed.
 *
 * Checks, with deltas all positive: acknowledged <= final <= acknowledged + unknown (no lost acknowledged
 * increment, none applied twice, no failed one applied); the values returned by acknowledged adds are
 * distinct (two adds that saw the same total mean one was lost) and never above the final value.
 */
export function checkCounter(history: History): CheckResult {
  const anomalies: string[] = [];
  const adds = history.filter((op) => op.op === 'add');
  const truth = history.find((op) => op.op === 'truth');
  if (truth === undefined) return result(['counter: no final read (truth op) in the history']);
  const final = BigInt((truth.value as { final: string }).final);
  let acknowledged = 0n;
  let unknown = 0n;
  const returnedBy = new Map<bigint, string>();
  for (const add of adds) {
    const { delta, returned } = add.value as { delta: string; returned?: string };
    const amount = BigInt(delta);
    if (amount <= 0n)
      anomalies.push(`counter: ${add.process} added ${amount}; the checker needs positive deltas`);
    if (add.outcome === 'ok') acknowledged += amount;
    if (add.outcome === 'unknown') unknown += amount;
    if (add.outcome !== 'ok' || returned === undefined) continue;
    const value = BigInt(returned);
    const other = returnedBy.get(value);
    if (other !== undefined)
      anomalies.push(
        `counter: two acknowledged adds returned ${value} (${other} and ${add.process}): an update was lost`,
      );
    returnedBy.set(value, add.process);
    if (value > final)
      anomalies.push(`counter: ${add.process} was told ${value}, above the final value ${final}`);
  }
  if (final < acknowledged)
    anomalies.push(
      `counter: final value ${final} < ${acknowledged} acknowledged increments: acknowledged increments lost`,
    );
  if (final > acknowledged + unknown)
    anomalies.push(
      `counter: final value ${final} > ${acknowledged} acknowledged + ${unknown} unknown increments: an increment was applied twice or a failed one applied`,
    );
  return result(anomalies);
}
