import type { EtcdMember } from './etcd-member.js';
import { canConnect, isHealthy, type TlsMaterial } from './http-json.js';

/** Raised when etcd could not bind a port that was free a moment before: the start is worth retrying. */
export class PortTakenError extends Error {}

/**
 * Polls a freshly spawned member until it is healthy (or merely accepts connections) and fails fast, with
 * its log tail, when the process exits instead.
 */
export async function waitForMember(
  member: EtcdMember,
  until: 'healthy' | 'listening',
  timeout: number,
  tls: TlsMaterial | undefined,
): Promise<void> {
  const deadline = performance.now() + timeout;
  for (;;) {
    if (!member.alive) {
      const tail = member.logTail();
      const message = `etcd member ${member.spec.name} (${member.clientUrl}) exited while starting; log ${member.spec.logFile}:\n${tail}`;
      throw /address already in use/i.test(tail) ? new PortTakenError(message) : new Error(message);
    }
    const ready =
      until === 'healthy' ? await isHealthy(member.clientUrl, tls) : await canConnect(member.spec.clientPort);
    if (ready) return;
    if (performance.now() > deadline) {
      throw new Error(
        `etcd member ${member.spec.name} (${member.clientUrl}) was not ${until} after ${timeout} ms; ` +
          `log ${member.spec.logFile}:\n${member.logTail()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
