import { randomBytes } from 'node:crypto';

/**
 * Random per process (72 bits), so that two processes never hand out the same op id; the sequence
 * number after it makes each id of this process unique without a crypto call per write.
 */
const PROCESS_PREFIX = randomBytes(9).toString('base64url');
let sequence = 0;

/**
 * A fresh op id, unique among every writer of every key: `<12 random base64url chars>.<sequence in
 * base 36>`, e.g. `Qm9xY2tpdF9q.4zk`. No space, so it can follow a value after one.
 */
export function nextOpId(): string {
  sequence++;
  return `${PROCESS_PREFIX}.${sequence.toString(36)}`;
}
