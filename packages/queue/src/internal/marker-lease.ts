import { idempotent, monotonicNow, type Session } from '@coordkit/core';

/** How long an enqueue marker lives: between MARKER_TTL_S / 2 and MARKER_TTL_S seconds. */
export const MARKER_TTL_S = 120;

/**
 * Leases for enqueue markers. They are never kept alive: a marker must outlive any late duplicate
 * of its enqueue, then disappear by itself so the id can be used again. A new lease is granted when
 * the current one is half way through its TTL, so every marker lives at least MARKER_TTL_S / 2 s;
 * that costs one lease grant per minute per producing Queue, not one per job.
 */
export class MarkerLease {
  readonly #session: Session;
  #current: Promise<string> | undefined;
  #grantedAt = Number.NEGATIVE_INFINITY;

  constructor(session: Session) {
    this.#session = session;
  }

  current(): Promise<string> {
    if (!this.#current || monotonicNow() - this.#grantedAt > (MARKER_TTL_S * 1000) / 2) {
      this.#grantedAt = monotonicNow();
      const granting = idempotent('queue: grant enqueue marker lease', () =>
        this.#session.client.leaseClient.leaseGrant({ TTL: MARKER_TTL_S, ID: 0 }),
      ).then((granted) => String(granted.ID));
      // A failed grant is not cached: the next enqueue asks again.
      granting.catch(() => {
        if (this.#current === granting) this.#current = undefined;
      });
      this.#current = granting;
    }
    return this.#current;
  }
}
