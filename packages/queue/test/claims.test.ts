import { CoordError, ErrorCodes } from '@coordkit/core';
import { Queue } from '@coordkit/queue';
import { waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { countRequests, queueName, testSession } from './helpers.js';

describe('claims and wake-ups', () => {
  it("aborts a job's signal when its claim key is deleted behind its back, whether or not the handle still runs", async () => {
    await using session = await testSession();
    await using admin = await testSession();
    const name = queueName('q-claim-gone');
    await using queue = new Queue<string>(session, name);
    await queue.enqueueBatch([
      { data: 'a', id: 'a' },
      { data: 'b', id: 'b' },
      { data: 'c', id: 'c' },
    ]);
    // Watched through the handle's inflight mirror (dequeue started it).
    const watched = await queue.dequeue({ timeout: 5_000 });
    await admin.client.delete().key(`${name}/inflight/a/claim`);
    await waitFor(() => watched.signal.aborted, { message: 'job a to lose its claim' });
    expect(CoordError.is(watched.signal.reason, ErrorCodes.LOCK_LOST)).toBe(true);
    // Held while the handle closes: the claim gets a watch of its own.
    const handedOver = await queue.dequeue({ timeout: 5_000 });
    await queue.close();
    expect(handedOver.signal.aborted).toBe(false);
    // (Job a may be back in line first: the handle's monitor re-queued it when its claim vanished.)
    await admin.client.delete().key(`${name}/inflight/${handedOver.id}/claim`);
    await waitFor(() => handedOver.signal.aborted, {
      message: 'the job held across close to lose its claim',
    });
    // Taken by a handle that never waited (no mirror): a watch of its own from the start.
    await using fresh = new Queue<string>(session, name);
    const alone = await fresh.tryDequeue();
    expect(alone).toBeDefined();
    await admin.client.delete().key(`${name}/inflight/${alone!.id}/claim`);
    await waitFor(() => alone!.signal.aborted, {
      message: 'the job taken without a mirror to lose its claim',
    });
    await expect(alone!.ack()).rejects.toSatisfy((err) => CoordError.is(err, ErrorCodes.LOCK_LOST));
  });

  it('a waiting consumer woken by a new job claims it from the watch, without reading the ready set', async () => {
    await using producer = await testSession();
    // A long TTL keeps keepalives (whose revision can start core's rollback check, a read) out of the count.
    await using consumerSession = await testSession(60);
    const name = queueName('q-wake');
    await using queue = new Queue<string>(producer, name);
    await using consumer = new Queue<string>(consumerSession, name);
    const counts = countRequests(consumerSession.client);
    const waiting = consumer.dequeue({ timeout: 10_000 });
    // Parked: its mirrors' snapshots and the claim read are done, and it sends nothing more.
    await waitFor(() => counts.range >= 3, {
      message: 'the consumer to read its snapshots and the ready set',
    });
    const parked = { ...counts };
    await queue.enqueue('first');
    const job = await waiting;
    expect(job.data).toBe('first');
    expect(counts).toEqual({ range: parked.range, txn: parked.txn + 1 });
    await job.ack();
  });
});
