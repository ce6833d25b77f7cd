import { describe, expect, it } from 'vitest';
import { checkCounter } from './checkers/counter.js';
import { checkElection } from './checkers/election.js';
import { checkLock } from './checkers/lock.js';
import { checkQueue } from './checkers/queue.js';
import { checkWatch } from './checkers/watch.js';
import { type HistoryOp, type Outcome, parseHistory, toJsonLine } from './lib/history.js';

// Every checker must pass a correct history and fail each broken variant of it: a checker that cannot
// fail proves nothing about the chaos runs.

let clock = 1_000;
function op(
  process: string,
  name: string,
  fields: Partial<Omit<HistoryOp, 'process' | 'op'>> = {},
): HistoryOp {
  clock += 10;
  return { process, op: name, time: clock, end: clock + 5, outcome: 'ok', ...fields };
}
function write(
  process: string,
  id: string,
  token: bigint,
  revision: bigint,
  outcome: Outcome = 'ok',
): HistoryOp {
  return op(process, 'write', { value: id, token, outcome, ...(outcome === 'ok' ? { revision } : {}) });
}
function fencedTruth(writes: [string, bigint, bigint, string][]): HistoryOp {
  return op('checker', 'truth', {
    value: {
      writes: writes.map(([id, token, revision, process]) => ({
        id,
        token: String(token),
        revision: String(revision),
        process,
      })),
    },
  });
}

describe('history', () => {
  it('round-trips bigints and drops a torn last line', () => {
    const line = toJsonLine(op('lock1#1', 'write', { value: 'w1', token: 12n, revision: 15n }));
    const parsed = parseHistory(`${line}\n${line.slice(0, 20)}`);
    expect(parsed).toHaveLength(1);
    expect(parsed[0]).toMatchObject({ process: 'lock1#1', token: 12n, revision: 15n });
    expect(() => parseHistory(`{bad\n${line}`)).toThrow(/not JSON/);
  });
});

describe('lock checker', () => {
  const good = () => [
    op('a#1', 'acquire', { token: 10n }),
    write('a#1', 'w1', 10n, 11n),
    write('a#1', 'w2', 10n, 12n),
    op('b#1', 'acquire', { token: 13n }),
    write('b#1', 'w3', 13n, 14n),
    write('b#1', 'w4', 13n, 0n, 'unknown'),
    fencedTruth([
      ['w1', 10n, 11n, 'a#1'],
      ['w2', 10n, 12n, 'a#1'],
      ['w3', 13n, 14n, 'b#1'],
      ['w4', 13n, 15n, 'b#1'],
    ]),
  ];

  it('accepts a correct history', () => {
    expect(checkLock(good())).toEqual({ ok: true, anomalies: [] });
  });

  it('counts a landed but unrecorded write as unknown only when its process was killed', () => {
    const kill = op('nemesis', 'fault-start', { value: { kind: 'kill-process', target: 'b#1' } });
    const unrecorded = (extra: HistoryOp[]) => [
      op('a#1', 'acquire', { token: 10n }),
      write('a#1', 'w1', 10n, 11n),
      op('b#1', 'acquire', { token: 13n }),
      ...extra,
      fencedTruth([
        ['w1', 10n, 11n, 'a#1'],
        ['w9', 13n, 14n, 'b#1'],
      ]),
    ];
    expect(checkLock(unrecorded([kill])).anomalies).toEqual([]);
    expect(checkLock(unrecorded([])).anomalies.join('\n')).toMatch(/w9 landed but was never invoked/);
  });

  it('fails on overlapping holders whose writes interleave', () => {
    const history = [
      op('a#1', 'acquire', { token: 10n }),
      op('b#1', 'acquire', { token: 13n }),
      write('a#1', 'w1', 10n, 14n),
      write('b#1', 'w2', 13n, 15n),
      write('a#1', 'w3', 10n, 16n),
    ];
    const check = checkLock(history);
    expect(check.ok).toBe(false);
    expect(check.anomalies.join('\n')).toMatch(/token decreased.*w3/);
  });

  it('fails on a decreasing token in etcd commit order', () => {
    const history = [
      op('a#1', 'acquire', { token: 10n }),
      op('b#1', 'acquire', { token: 13n }),
      write('b#1', 'w1', 13n, 14n),
      write('a#1', 'w2', 10n, 15n),
    ];
    expect(checkLock(history).anomalies.join('\n')).toMatch(/token decreased/);
  });

  it('fails when one token is granted twice', () => {
    const history = [op('a#1', 'acquire', { token: 10n }), op('b#1', 'acquire', { token: 10n })];
    expect(checkLock(history).anomalies.join('\n')).toMatch(/granted twice/);
  });

  it('fails on a write reported failed that landed, and on an acknowledged write missing', () => {
    const history = good();
    history[2] = write('a#1', 'w2', 10n, 0n, 'fail');
    history[6] = fencedTruth([
      ['w2', 10n, 12n, 'a#1'],
      ['w3', 13n, 14n, 'b#1'],
    ]);
    const text = checkLock(history).anomalies.join('\n');
    expect(text).toMatch(/w2.*reported failed but landed/);
    expect(text).toMatch(/acknowledged write w1.*missing/);
  });

  it('fails when an unknown write of a deposed holder landed after the next holder wrote', () => {
    const history = good();
    history[6] = fencedTruth([
      ['w1', 10n, 11n, 'a#1'],
      ['w2', 10n, 12n, 'a#1'],
      ['w3', 13n, 14n, 'b#1'],
      ['w4', 13n, 15n, 'b#1'],
      ['w5', 10n, 16n, 'a#1'],
    ]);
    history.splice(3, 0, write('a#1', 'w5', 10n, 0n, 'unknown'));
    expect(checkLock(history).anomalies.join('\n')).toMatch(/writes in etcd.*token decreased.*w5/);
  });
});

describe('election checker', () => {
  const good = () => [
    op('c1#1', 'elected', { token: 5n }),
    op('o1#1', 'observe', { revision: 5n, token: 5n }),
    write('c1#1', 'w1', 5n, 7n),
    op('o1#1', 'observe', { revision: 8n }),
    op('c2#1', 'elected', { token: 6n }),
    op('o1#1', 'observe', { revision: 9n, token: 6n }),
    op('o2#1', 'observe', { revision: 9n, token: 6n }),
    write('c2#1', 'w2', 6n, 10n),
  ];

  it('accepts a correct history', () => {
    expect(checkElection(good())).toEqual({ ok: true, anomalies: [] });
  });

  it('fails on two leaders at one revision', () => {
    const history = [...good(), op('o2#1', 'observe', { revision: 8n, token: 5n })];
    expect(checkElection(history).anomalies.join('\n')).toMatch(/two leaders at revision 8/);
  });

  it('fails when an observer goes back to an older leader', () => {
    const history = [...good(), op('o1#1', 'observe', { revision: 11n, token: 5n })];
    const text = checkElection(history).anomalies.join('\n');
    expect(text).toMatch(/o1#1 saw leader token 5 .* after token 6/);
    expect(text).toMatch(/deposed leader token 5/);
  });

  it('fails when a deposed leader writes after a newer leader was observed', () => {
    const history = [...good(), write('c1#1', 'w3', 5n, 12n)];
    expect(checkElection(history).anomalies.join('\n')).toMatch(/w3 of leader token 5 landed at revision 12/);
  });

  it('fails when observer revisions go backwards', () => {
    const history = [...good(), op('o2#1', 'observe', { revision: 4n })];
    expect(checkElection(history).anomalies.join('\n')).toMatch(/went back in revisions/);
  });
});

describe('queue checker', () => {
  const deq = (process: string, id: string, attempt: number) =>
    op(process, 'dequeue', { value: { id, attempt } });
  const ack = (process: string, id: string, outcome: Outcome = 'ok') =>
    op(process, 'ack', { value: { id }, outcome });
  const truth = (remaining: string[]) => op('checker', 'truth', { value: { remaining } });
  const good = () => [
    op('p#1', 'enqueue', { value: 'j-1' }),
    op('p#1', 'enqueue', { value: 'j-2' }),
    op('p#1', 'enqueue', { value: 'j-3', outcome: 'unknown' }),
    op('p#1', 'enqueue', { value: 'j-4' }),
    deq('c1#1', 'j-1', 1),
    op('nemesis', 'fault-start', { value: { kind: 'pause-process', target: 'c1#1' } }),
    deq('c2#1', 'j-1', 2),
    ack('c2#1', 'j-1'),
    op('nemesis', 'fault-end', { value: { kind: 'pause-process', target: 'c1#1' } }),
    op('c1#1', 'lost', { value: { id: 'j-1' } }),
    deq('c2#1', 'j-2', 1),
    ack('c2#1', 'j-2'),
    truth(['j-4']),
  ];

  it('accepts a correct history with a redelivery after a pause', () => {
    expect(checkQueue(good())).toEqual({ ok: true, anomalies: [] });
  });

  it('fails on a lost acknowledged job', () => {
    const history = good();
    history[12] = truth([]);
    expect(checkQueue(history).anomalies.join('\n')).toMatch(/acknowledged job j-4 lost/);
  });

  it('fails when two live consumers hold a job at once', () => {
    const history = [
      op('p#1', 'enqueue', { value: 'j-1' }),
      deq('c1#1', 'j-1', 1),
      deq('c2#1', 'j-1', 2),
      ack('c1#1', 'j-1'),
      ack('c2#1', 'j-1'),
      truth([]),
    ];
    expect(checkQueue(history).anomalies.join('\n')).toMatch(/j-1 held by two live consumers/);
  });

  it('fails on one attempt delivered twice, and on a delivery after the ack', () => {
    const history = [
      op('p#1', 'enqueue', { value: 'j-1' }),
      deq('c1#1', 'j-1', 1),
      ack('c1#1', 'j-1'),
      deq('c2#1', 'j-1', 1),
      truth([]),
    ];
    const text = checkQueue(history).anomalies.join('\n');
    expect(text).toMatch(/attempt 1 delivered twice/);
    expect(text).toMatch(/delivered again to c2#1.*after c1#1 acked/);
  });

  it('accepts a delivery whose enqueue died with its killed producer, and no other', () => {
    const kill = op('nemesis', 'fault-start', { value: { kind: 'kill-process', target: 'producer1#2' } });
    const history = [kill, deq('c1#1', 'j-200007', 1), ack('c1#1', 'j-200007'), truth([])];
    expect(checkQueue(history).anomalies).toEqual([]);
    const other = [kill, deq('c1#1', 'j-300007', 1), ack('c1#1', 'j-300007'), truth([])];
    expect(checkQueue(other).anomalies.join('\n')).toMatch(
      /j-300007 delivered to c1#1 but never successfully enqueued/,
    );
  });

  it('accepts a job gone after its consumer was killed holding it (an unrecorded ack), and no other', () => {
    const enqueue = op('p#1', 'enqueue', { value: 'j-1' });
    const held = deq('c1#1', 'j-1', 1);
    const kill = op('nemesis', 'fault-start', { value: { kind: 'kill-process', target: 'c1#1' } });
    expect(checkQueue([enqueue, held, kill, truth([])]).anomalies).toEqual([]);
    // Killed before it ever held the job, or another process killed: the job is lost.
    const killedBefore = [enqueue, kill, deq('c1#1', 'j-1', 1), truth([])];
    expect(checkQueue(killedBefore).anomalies.join('\n')).toMatch(/acknowledged job j-1 lost/);
    const otherKilled = [
      enqueue,
      held,
      op('nemesis', 'fault-start', { value: { kind: 'kill-process', target: 'c2#1' } }),
      truth([]),
    ];
    expect(checkQueue(otherKilled).anomalies.join('\n')).toMatch(/acknowledged job j-1 lost/);
  });

  it('fails on a job never enqueued, and on an acked job left in the queue', () => {
    const history = [deq('c1#1', 'j-9', 1), ack('c1#1', 'j-9'), truth(['j-9'])];
    const text = checkQueue(history).anomalies.join('\n');
    expect(text).toMatch(/j-9 delivered to c1#1 but never successfully enqueued/);
    expect(text).toMatch(/j-9 was acked.*still in the queue/);
  });
});

describe('counter checker', () => {
  const add = (outcome: Outcome, returned?: bigint) =>
    op('c#1', 'add', {
      outcome,
      value: { delta: '1', ...(returned !== undefined ? { returned: String(returned) } : {}) },
    });
  const final = (value: bigint) => op('checker', 'truth', { value: { final: String(value) } });

  it('accepts final values between acknowledged and acknowledged + unknown', () => {
    // The unknown add either did not apply (the second add saw 2, final 2) or did (it saw 3, final 3).
    expect(checkCounter([add('ok', 1n), add('unknown'), add('ok', 2n), add('fail'), final(2n)]).ok).toBe(
      true,
    );
    expect(checkCounter([add('ok', 1n), add('unknown'), add('ok', 3n), add('fail'), final(3n)]).ok).toBe(
      true,
    );
  });

  it('fails on a double-counted increment', () => {
    const check = checkCounter([add('ok', 1n), add('ok', 2n), add('fail'), final(3n)]);
    expect(check.anomalies.join('\n')).toMatch(/final value 3 > 2 acknowledged \+ 0 unknown/);
  });

  it('fails on a lost increment, and on two adds told the same value', () => {
    const check = checkCounter([add('ok', 1n), add('ok', 1n), final(1n)]);
    const text = check.anomalies.join('\n');
    expect(text).toMatch(/final value 1 < 2 acknowledged/);
    expect(text).toMatch(/two acknowledged adds returned 1/);
  });
});

describe('watch checker', () => {
  const deliver = (process: string, revision: bigint, ...keys: string[]) =>
    op(process, 'deliver', { revision, value: { keys } });
  const truth = (...entries: [bigint, ...string[]][]) =>
    op('checker', 'truth', {
      value: {
        entries: entries.map(([revision, ...keys]) => ({ revision: String(revision), keys })),
        mustReach: '13',
      },
    });
  const fullTruth = () => truth([10n, 'k1'], [11n, 'k2', 'k3'], [12n, 'k4'], [13n, 'k5']);
  const good = () => [
    op('s#1', 'subscribe', { revision: 10n }),
    deliver('s#1', 10n, 'k1'),
    deliver('s#1', 11n, 'k2'),
    deliver('s#1', 11n, 'k3'),
    op('s#2', 'subscribe', { revision: 12n }),
    deliver('s#2', 12n, 'k4'),
    deliver('s#2', 13n, 'k5'),
    fullTruth(),
  ];

  it('accepts ordered, complete, atomic deliveries resumed across a restart', () => {
    expect(checkWatch(good(), { keyOrderWithinRevision: true })).toEqual({ ok: true, anomalies: [] });
  });

  it('fails on a gap', () => {
    const history = good().filter((o) => o.revision !== 12n || o.op !== 'deliver');
    const text = checkWatch(history).anomalies.join('\n');
    expect(text).toMatch(/s#2 skipped revision 12/);
    expect(text).toMatch(/s never received revision 12/);
  });

  it('fails on a duplicate', () => {
    const history = [...good().slice(0, 4), deliver('s#1', 11n, 'k3'), ...good().slice(4)];
    expect(checkWatch(history).anomalies.join('\n')).toMatch(/k3 twice/);
  });

  it('fails on reordering', () => {
    const history = good();
    [history[5], history[6]] = [history[6]!, history[5]!];
    expect(checkWatch(history).anomalies.join('\n')).toMatch(/revision 12 after 13 \(reordered\)/);
  });

  it('fails on a revision delivered in part (not atomic) or out of key order', () => {
    const partial = good().filter(
      (o) => !(o.op === 'deliver' && (o.value as { keys: string[] }).keys[0] === 'k3'),
    );
    expect(checkWatch(partial).anomalies.join('\n')).toMatch(/revision 11 without k3/);
    const swapped = good();
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    expect(checkWatch(swapped, { keyOrderWithinRevision: true }).anomalies.join('\n')).toMatch(
      /out of order/,
    );
  });

  it('fails on a phantom, and on an observer that never caught up', () => {
    const history = [...good().slice(0, 6), deliver('s#2', 14n, 'k9'), fullTruth()];
    const text = checkWatch(history).anomalies.join('\n');
    expect(text).toMatch(/revision 14 \(k9\), which nothing wrote/);
    const stopped = good().filter((o) => o.revision !== 13n);
    expect(checkWatch(stopped).anomalies.join('\n')).toMatch(/stopped at revision 12/);
  });

  it('counts a restart whose snapshot is already at the last write as caught up', () => {
    const history = [...good().filter((o) => o.revision !== 13n), op('s#3', 'subscribe', { revision: 14n })];
    expect(checkWatch(history).anomalies.join('\n')).toMatch(/s never received revision 13/);
    const snapshot = [...good(), op('s#3', 'subscribe', { revision: 14n })];
    expect(checkWatch(snapshot)).toEqual({ ok: true, anomalies: [] });
  });

  it('excuses a reported loss, and a gap across a compaction only when asked', () => {
    const skipped = good().filter((o) => o.revision !== 11n);
    expect(checkWatch(skipped).anomalies.join('\n')).toMatch(/never received revision 11/);
    expect(checkWatch([op('s#1', 'gap', { revision: 12n }), ...skipped])).toEqual({
      ok: true,
      anomalies: [],
    });
    const compacted = [
      op('s#1', 'subscribe', { revision: 10n }),
      deliver('s#1', 10n, 'k1'),
      op('nemesis', 'compact', { revision: 12n }),
      deliver('s#1', 13n, 'k5'),
      fullTruth(),
    ];
    expect(checkWatch(compacted).ok).toBe(false);
    expect(checkWatch(compacted, { gapsAcrossCompaction: true })).toEqual({ ok: true, anomalies: [] });
  });
});
