import type { IRequestStream } from 'etcd3';

/**
 * Ends a gRPC stream we no longer need. etcd3 treats any error on a still-writable stream as a
 * member failure (it resets every connection to that member and opens its circuit breaker), and
 * cancelling raises a CANCELLED error: half-closing first makes the stream non-writable, so our own
 * cancel is not mistaken for a dead member.
 */
export function endStream(stream: IRequestStream<unknown>): void {
  try {
    stream.end();
  } catch {
    // Already ended.
  }
  try {
    stream.cancel();
  } catch {
    // Already cancelled.
  }
}
