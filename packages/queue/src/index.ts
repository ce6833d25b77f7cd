/**
 * A durable at-least-once job queue on etcd: claims bound to a session lease, retries with backoff,
 * delayed jobs, a dead-letter set, and no request while idle.
 * @packageDocumentation
 */
export { Job } from './job.js';
export type {
  BatchItem,
  DeadLetter,
  DequeueOptions,
  Enqueued,
  EnqueueOptions,
  NackOptions,
  ProcessOptions,
  QueueOptions,
  QueueStats,
} from './options.js';
export { Queue } from './queue.js';
