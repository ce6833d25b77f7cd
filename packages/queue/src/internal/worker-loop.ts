import type { Job } from '../job.js';
import type { ProcessOptions } from '../options.js';
import type { Queue } from '../queue.js';

/**
 * `concurrency` workers, each: dequeue, run the handler, ack on return, nack on throw. The stop
 * signal only cancels waiting dequeues, never a running handler, so stopping drains: no new job is
 * taken and every job already taken is settled before the returned promise resolves.
 */
export async function runWorkers<T>(
  queue: Queue<T>,
  handler: (job: Job<T>) => Promise<unknown> | unknown,
  concurrency: number,
  options: ProcessOptions,
): Promise<void> {
  const stop = options.signal ?? new AbortController().signal;
  const report = (err: unknown, job: Job<T> | undefined) => {
    try {
      options.onError?.(err, job as Job<unknown> | undefined);
    } catch {
      // A faulty error callback must not kill the loop.
    }
  };
  const worker = async () => {
    for (;;) {
      if (stop.aborted || queue.closedSignal.aborted) return;
      let job: Job<T>;
      try {
        job = await queue.dequeue({ signal: stop });
      } catch (err) {
        if (stop.aborted || queue.closedSignal.aborted) return;
        throw err;
      }
      try {
        await handler(job);
        if (job.isHeld()) await job.ack();
      } catch (err) {
        if (job.isHeld()) await job.nack({ error: err }).catch((nackErr: unknown) => report(nackErr, job));
        else report(err, job);
      }
    }
  };
  const outcomes = await Promise.allSettled(Array.from({ length: concurrency }, worker));
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
}
