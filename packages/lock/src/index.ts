/**
 * Fenced, fair, herd-free distributed locks on etcd: {@link Mutex} (compatible with `etcdctl lock`),
 * {@link Semaphore} and {@link RWLock}, thin facades over one waiting engine in `@coordkit/core`.
 * @packageDocumentation
 */
export type { WaitOptions } from '@coordkit/core';
export { LockHandle } from './lock-handle.js';
export { Mutex } from './mutex.js';
export { RWLock } from './rw-lock.js';
export { Semaphore, type SemaphoreOptions } from './semaphore.js';
