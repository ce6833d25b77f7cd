import { isBrokenCircuitError } from 'cockatiel';
import {
  ClientClosedError,
  EtcdAuthenticationFailedError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCInvalidArgumentError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
} from 'etcd3';
import { CoordError, type ErrorCode, ErrorCodes } from '../errors.js';

// etcd's gRPC protocol tells its server errors apart only by their description (its own Go client
// maps them the same way in rpctypes), so these few strings are protocol constants, kept in this one table.
const NO_LEADER = 'etcdserver: no leader';
const COMPACTED = 'required revision has been compacted';
const FUTURE_REV = 'required revision is a future revision';
// grpc-js fails a call with this before writing a byte when it has no connection: provably unsent.
const NOT_CONNECTED = 'No connection established';
// ...and names the cause: a TLS handshake refused (wrong CA, missing or bad client certificate) does
// not heal by retrying, so it is reported at once instead of after the whole retry budget.
const TLS_REFUSED = /certificate|SSL routines|TLS|handshake|alert/i;

function isTlsRefusal(message: string): boolean {
  return message.includes(NOT_CONNECTED) && TLS_REFUSED.test(message);
}

/** What a failed request tells us about whether it reached etcd. */
export type Delivery = 'unsent' | 'unknown' | 'rejected';

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Whether a failure proves the request never took effect, so that even a write may be re-sent. */
export function deliveryOf(err: unknown): Delivery {
  if (err instanceof ClientClosedError) return 'rejected';
  if (isTlsRefusal(messageOf(err))) return 'rejected';
  if (isBrokenCircuitError(err)) return 'unsent';
  const message = messageOf(err);
  if (message.includes(NO_LEADER) || message.includes(NOT_CONNECTED)) return 'unsent';
  if (err instanceof GRPCUnavailableError || err instanceof GRPCDeadlineExceededError) return 'unknown';
  if (message.includes('etcdserver: request timed out') || message.includes('leader changed'))
    return 'unknown';
  if (err instanceof CoordError) return err.code === ErrorCodes.UNKNOWN_OUTCOME ? 'unknown' : 'rejected';
  return 'rejected';
}

/** Whether a read that failed this way is worth trying again (on the same or another member). */
export function isTransient(err: unknown): boolean {
  return deliveryOf(err) !== 'rejected' || messageOf(err).includes('etcdserver: too many requests');
}

function codeOf(err: unknown, isWrite: boolean): ErrorCode {
  if (err instanceof CoordError) return err.code;
  if (err instanceof ClientClosedError) return ErrorCodes.CLOSED;
  if (
    err instanceof EtcdPermissionDeniedError ||
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof GRPCUnauthenticatedError
  ) {
    return ErrorCodes.PERMISSION_DENIED;
  }
  if (err instanceof EtcdLeaseInvalidError) return ErrorCodes.SESSION_EXPIRED;
  const message = messageOf(err);
  if (message.includes(COMPACTED)) return ErrorCodes.COMPACTED;
  if (message.includes(FUTURE_REV)) return ErrorCodes.REVISION_REGRESSED;
  if (message.includes('permission denied') || message.includes('user name is empty')) {
    return ErrorCodes.PERMISSION_DENIED;
  }
  if (err instanceof GRPCInvalidArgumentError) return ErrorCodes.INVALID_ARGUMENT;
  if (isTlsRefusal(message)) return ErrorCodes.UNAVAILABLE;
  const delivery = deliveryOf(err);
  if (delivery === 'unsent') return ErrorCodes.UNAVAILABLE;
  if (delivery === 'unknown') return isWrite ? ErrorCodes.UNKNOWN_OUTCOME : ErrorCodes.UNAVAILABLE;
  return ErrorCodes.INTERNAL;
}

/**
 * Wraps any etcd/gRPC failure as a {@link CoordError}. `what` names the operation and key, e.g.
 * `lock "jobs": acquire`; `isWrite` decides whether an unanswered request is `UNKNOWN_OUTCOME`.
 */
export function toCoordError(err: unknown, what: string, isWrite: boolean, key?: string): CoordError {
  if (err instanceof CoordError) return err;
  const code = codeOf(err, isWrite);
  const suffix = code === ErrorCodes.UNKNOWN_OUTCOME ? ' (the write may or may not have been applied)' : '';
  return new CoordError(code, `${what}: ${messageOf(err)}${suffix}`, {
    cause: err,
    ...(key === undefined ? {} : { key }),
  });
}
