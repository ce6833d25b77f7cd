import { CasCounter } from '@coordkit/cas-counter';
import { sharedEndpoints, uniquePrefix } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { rawValue, runIncrementChild, testClient } from './helpers.js';

const PROCESSES = 16;
const INCREMENTS = 500;

describe('CasCounter under contention from other processes', () => {
  it(`counts exactly ${PROCESSES} x ${INCREMENTS} increments made by ${PROCESSES} processes at once`, async () => {
    const name = `${uniquePrefix('contention')}counter`;
    const started = performance.now();
    const reports = await Promise.all(
      Array.from({ length: PROCESSES }, () => runIncrementChild(sharedEndpoints(), name, INCREMENTS)),
    );
    const elapsed = performance.now() - started;
    expect(reports.map((report) => report.acked)).toEqual(Array(PROCESSES).fill(INCREMENTS));
    using client = testClient();
    await using counter = new CasCounter(client, name);
    expect(await counter.get()).toBe(BigInt(PROCESSES * INCREMENTS));
    expect(await rawValue(client, `${name}/value`)).toMatch(new RegExp(`^${PROCESSES * INCREMENTS} \\S+$`));
    console.info(
      `${PROCESSES} x ${INCREMENTS} increments in ${Math.round(elapsed)} ms (slowest child ${Math.max(...reports.map((r) => r.ms))} ms)`,
    );
    expect(elapsed).toBeLessThan(60_000);
  });
});
