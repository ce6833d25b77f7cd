import { Semaphore } from '@coordkit/lock';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { contender, isSettled, keysUnder } from './helpers.js';
import { lockSuite } from './lock-suite.js';

lockSuite('Semaphore(1)', (session, name) => {
  const semaphore = new Semaphore(session, name, { permits: 1 });
  return { acquire: (options) => semaphore.acquire(options), tryAcquire: () => semaphore.tryAcquire() };
});

describe('Semaphore', () => {
  it('never lets more than 3 of 8 clients hold a permit at once, and does let 3 hold together', async () => {
    const name = `${uniquePrefix('sem-3')}sem`;
    const contenders = await Promise.all(Array.from({ length: 8 }, () => contender()));
    let holders = 0;
    let maxHolders = 0;
    let grants = 0;
    let active = contenders.length;
    try {
      await Promise.all(
        contenders.map(async ({ session }) => {
          const semaphore = new Semaphore(session, name, { permits: 3 });
          for (let round = 0; round < 3; round++) {
            const handle = await semaphore.acquire({ timeout: 20_000 });
            holders++;
            grants++;
            maxHolders = Math.max(maxHolders, holders);
            // The first holders stay until 3 hold together, so the overlap is shown, not left to luck.
            await waitFor(() => maxHolders === 3 || active < 3, { message: 'three holders', timeout: 5000 });
            holders--;
            await handle.release();
          }
          active--;
        }),
      );
    } finally {
      await Promise.all(contenders.map((c) => c[Symbol.asyncDispose]()));
    }
    expect(grants).toBe(24);
    expect(maxHolders).toBe(3);
  });

  it('tryAcquire returns undefined when all permits are held; one session may hold several permits', async () => {
    const name = `${uniquePrefix('sem-try')}sem`;
    await using a = await contender();
    await using b = await contender();
    const mine = new Semaphore(a.session, name, { permits: 3 });
    const held = await Promise.all([mine.acquire(), mine.acquire(), mine.tryAcquire()]);
    expect(held.every((h) => h?.isHeld())).toBe(true);
    expect(new Set(held.map((h) => h?.key)).size).toBe(3);
    for (const handle of held) expect(handle?.key.startsWith(`${name}/${a.session.leaseIdHex}-`)).toBe(true);
    const theirs = new Semaphore(b.session, name, { permits: 3 });
    expect(await theirs.tryAcquire()).toBeUndefined();
    const waiting = theirs.acquire();
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 4, { message: 'b queued' });
    expect(await isSettled(waiting)).toBe(false);
    await held[1]!.release();
    await using granted = await waiting;
    expect(granted.isHeld()).toBe(true);
    await held[0]!.release();
    await held[2]!.release();
  });

  it('rejects permits that are not an integer >= 1 with INVALID_ARGUMENT', async () => {
    await using a = await contender();
    for (const permits of [0, -1, 1.5, Number.NaN, undefined]) {
      expect(() => new Semaphore(a.session, 'x', { permits: permits as number })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('permits') }),
      );
    }
  });
});
