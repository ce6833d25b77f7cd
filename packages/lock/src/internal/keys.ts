import { randomBytes } from 'node:crypto';
import type { Session } from '@coordkit/core';

/**
 * A key unique to one acquisition, `<prefix><lease id hex>-<12 random hex digits>`: the lease id
 * tells an operator which session holds it, the suffix lets one session hold several permits.
 */
export function uniqueWaiterKey(prefix: string, session: Session): string {
  return `${prefix}${session.leaseIdHex}-${randomBytes(6).toString('hex')}`;
}
