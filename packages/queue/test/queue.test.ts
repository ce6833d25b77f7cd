import { CoordError, ErrorCodes } from '@coordkit/core';
import { Queue } from '@coordkit/queue';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { countRequests, keysUnder, queueName, testSession } from './helpers.js';

async function drain<T>(queue: Queue<T>, count: number): Promise<T[]> {
  const seen: T[] = [];
  for (let i = 0; i < count; i++) {
    const job = await queue.dequeue({ timeout: 5_000 });
    seen.push(job.data);
    await job.ack();
  }
  return seen;
}

describe('Queue', () => {
  it("delivers one producer's jobs to one consumer in enqueue order", async () => {
    await using session = await testSession();
    await using queue = new Queue<number>(session, queueName('q-fifo'));
    for (let i = 0; i < 20; i++) await queue.enqueue(i);
    await queue.enqueueBatch(Array.from({ length: 20 }, (_, i) => ({ data: 20 + i })));
    expect(await drain(queue, 40)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(await queue.tryDequeue()).toBeUndefined();
    expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 0, inflight: 0, dead: 0 });
  });

  it('serves higher priorities first, FIFO within each', async () => {
    await using session = await testSession();
    await using queue = new Queue<string>(session, queueName('q-prio'));
    await queue.enqueue('low-1', { priority: -5 });
    await queue.enqueue('mid-1');
    await queue.enqueue('high-1', { priority: 7 });
    await queue.enqueue('low-2', { priority: -5 });
    await queue.enqueue('high-2', { priority: 7 });
    await queue.enqueue('mid-2', { priority: 0 });
    expect(await drain(queue, 6)).toEqual(['high-1', 'high-2', 'mid-1', 'mid-2', 'low-1', 'low-2']);
  });

  it('enqueues a batch in one transaction and skips ids already queued', async () => {
    await using session = await testSession();
    await using queue = new Queue<string>(session, queueName('q-dedup'));
    const first = await queue.enqueue('a', { id: 'order-1' });
    const again = await queue.enqueue('a-again', { id: 'order-1' });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ id: 'order-1', revision: first.revision, duplicate: true });
    const batch = await queue.enqueueBatch([
      { data: 'b', id: 'order-2' },
      { data: 'dup', id: 'order-1' },
      { data: 'c' },
    ]);
    expect(batch.map((r) => r.duplicate)).toEqual([false, true, false]);
    expect(batch[0]!.revision).toBe(batch[2]!.revision);
    expect((await queue.stats()).ready).toBe(3);
    expect(await drain(queue, 3)).toEqual(['a', 'b', 'c']);
    // Even once acked, the id is remembered for a while (1-2 minutes): that is what stops a late
    // duplicate of the enqueue request from queueing the job again.
    expect((await queue.enqueue('a-later', { id: 'order-1' })).duplicate).toBe(true);
    expect((await queue.stats()).ready).toBe(0);
  });

  it('rejects bad input before writing anything', async () => {
    await using session = await testSession();
    const name = uniquePrefix('q-args');
    expect(() => new Queue(session, `${name}x/`)).toThrow(/queue name/);
    expect(() => new Queue(session, `${name}x`, { maxAttempts: 0 })).toThrow(/maxAttempts/);
    await using queue = new Queue(session, `${name}x`);
    const bad = [
      queue.enqueue(1, { priority: 5000 }),
      queue.enqueue(1, { id: 'has/slash' }),
      queue.enqueue(1, { delay: -1 }),
      queue.enqueue(undefined),
      queue.enqueueBatch([
        { data: 1, id: 'same' },
        { data: 2, id: 'same' },
      ]),
    ];
    for (const attempt of bad) {
      await expect(attempt).rejects.toSatisfy((err) => CoordError.is(err, ErrorCodes.INVALID_ARGUMENT));
    }
    expect(await keysUnder(session.client, name)).toEqual({});
  });

  it('retries a nacked job with attempt + 1, then dead-letters it after maxAttempts, and redrives it', async () => {
    await using session = await testSession();
    await using queue = new Queue<{ n: number }>(session, queueName('q-dead'), {
      maxAttempts: 3,
      backoff: () => 0,
    });
    await queue.enqueue({ n: 1 }, { id: 'poison' });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const job = await queue.dequeue({ timeout: 5_000 });
      expect([job.id, job.attempt]).toEqual(['poison', attempt]);
      expect(job.lastError).toBe(attempt === 1 ? undefined : `Error: failure ${attempt - 1}`);
      await job.nack({ error: new Error(`failure ${attempt}`) });
    }
    expect(await queue.tryDequeue()).toBeUndefined();
    expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 0, inflight: 0, dead: 1 });
    const [letter] = await queue.deadLetters();
    expect(letter).toMatchObject({ id: 'poison', data: { n: 1 }, attempt: 3, lastError: 'Error: failure 3' });
    // Still queued (dead), so the id is not accepted again.
    expect((await queue.enqueue({ n: 2 }, { id: 'poison' })).duplicate).toBe(true);
    expect(await queue.redrive('poison')).toBe(1);
    const again = await queue.dequeue({ timeout: 5_000 });
    expect([again.id, again.attempt, again.data]).toEqual(['poison', 1, { n: 1 }]);
    await again.ack();
    expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 0, inflight: 0, dead: 0 });
  });

  it('delays a nack by its backoff and keeps the job in the delayed set meanwhile', async () => {
    await using session = await testSession();
    await using queue = new Queue<string>(session, queueName('q-backoff'), { backoff: (a) => a * 400 });
    await queue.enqueue('x');
    const job = await queue.dequeue({ timeout: 5_000 });
    const nackedAt = performance.now();
    await job.nack({ error: 'flaky' });
    expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 1 });
    const retry = await queue.dequeue({ timeout: 5_000 });
    expect(performance.now() - nackedAt).toBeGreaterThanOrEqual(390);
    expect([retry.attempt, retry.lastError]).toEqual([2, 'flaky']);
    await retry.ack();
  });

  it('makes a delayed job ready at its time while an idle consumer sends no request', async () => {
    await using producer = await testSession();
    await using consumerSession = await testSession();
    const name = queueName('q-delay');
    await using queue = new Queue<string>(producer, name);
    await using consumer = new Queue<string>(consumerSession, name);
    const counts = countRequests(consumerSession.client);
    const waiting = consumer.dequeue({ timeout: 10_000 });
    // Let the consumer set up (one read, its watches) and go idle.
    await waitFor(() => counts.range >= 1);
    const enqueuedAt = Date.now();
    await queue.enqueue('later', { delay: 1_200 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const idleFrom = { ...counts };
    // Observe the idle consumer for ~0.9 s: it must not poll.
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect(counts).toEqual(idleFrom);
    const job = await waiting;
    expect(Date.now() - enqueuedAt).toBeGreaterThanOrEqual(1_200);
    expect(job.data).toBe('later');
    await job.ack();
  });

  it('times out and cancels a waiting dequeue, leaving nothing behind', async () => {
    await using session = await testSession();
    const name = queueName('q-cancel');
    await using queue = new Queue(session, name);
    await expect(queue.dequeue({ timeout: 200 })).rejects.toSatisfy((err) =>
      CoordError.is(err, ErrorCodes.TIMEOUT),
    );
    const controller = new AbortController();
    const waiting = queue.dequeue({ signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    const closing = queue.dequeue();
    await queue.close();
    await expect(closing).rejects.toSatisfy((err) => CoordError.is(err, ErrorCodes.CLOSED));
    expect(await keysUnder(session.client, name)).toEqual({});
  });

  it("gives a dead consumer's job to another consumer once its lease is gone, and aborts its signal", async () => {
    await using session = await testSession(2);
    await using other = await testSession();
    const name = queueName('q-crash');
    await using first = new Queue<string>(session, name);
    await using second = new Queue<string>(other, name);
    await first.enqueue('work', { id: 'j1' });
    const job = await first.dequeue({ timeout: 5_000 });
    const lost = second.dequeue({ timeout: 10_000 });
    await session.close();
    await waitFor(() => job.signal.aborted, { message: 'the first job signal to abort' });
    const again = await lost;
    expect([again.id, again.attempt, again.lastError]).toEqual([
      'j1',
      2,
      expect.stringContaining('lost its session'),
    ]);
    await expect(job.ack()).rejects.toSatisfy((err) => CoordError.is(err, ErrorCodes.LOCK_LOST));
    await again.ack();
    expect(await second.stats()).toMatchObject({ ready: 0, inflight: 0 });
  });

  it('takes a job back at its visibility timeout: the stuck consumer loses it and cannot ack', async () => {
    await using session = await testSession();
    await using other = await testSession();
    const name = queueName('q-visibility');
    await using stuck = new Queue<string>(session, name, { visibilityTimeout: 300 });
    await using second = new Queue<string>(other, name);
    await stuck.enqueue('slow');
    const job = await stuck.dequeue({ timeout: 5_000 });
    const again = await second.dequeue({ timeout: 5_000 });
    expect(job.signal.aborted).toBe(true);
    expect(CoordError.is(job.signal.reason, ErrorCodes.LOCK_LOST)).toBe(true);
    expect(again.attempt).toBe(2);
    await expect(job.ack()).rejects.toSatisfy((err) => CoordError.is(err, ErrorCodes.LOCK_LOST));
    await again.ack();
  });

  it('processes with concurrency, nacks on throw, and drains on abort', async () => {
    await using session = await testSession();
    await using queue = new Queue<number>(session, queueName('q-process'), { backoff: () => 0 });
    await queue.enqueueBatch(Array.from({ length: 30 }, (_, i) => ({ data: i })));
    const done: number[] = [];
    const failedOnce = new Set<number>();
    let running = 0;
    let maxRunning = 0;
    const stop = new AbortController();
    const loop = queue.process(
      async (job) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        if (job.data % 10 === 0 && !failedOnce.has(job.data)) {
          failedOnce.add(job.data);
          throw new Error('first try fails');
        }
        done.push(job.data);
      },
      { concurrency: 4, signal: stop.signal },
    );
    await waitFor(() => done.length === 30, { message: 'all 30 jobs processed' });
    stop.abort();
    await loop;
    expect([...done].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(maxRunning).toBeGreaterThan(1);
    expect(maxRunning).toBeLessThanOrEqual(4);
    expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 0, inflight: 0, dead: 0 });
  });
});
