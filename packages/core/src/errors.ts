/**
 * The codes a {@link CoordError} can carry. Compare against these, never against message text.
 */
export const ErrorCodes = {
  /** A wait ran past its `timeout`. */
  TIMEOUT: 'TIMEOUT',
  /** A wait was cancelled through its `signal` without a reason of its own. */
  ABORTED: 'ABORTED',
  /** The session's lease expired, was revoked, or could no longer be proven alive. */
  SESSION_EXPIRED: 'SESSION_EXPIRED',
  /** The session was closed by its owner. */
  SESSION_CLOSED: 'SESSION_CLOSED',
  /** The history a watch or subscription needs was compacted away. */
  COMPACTED: 'COMPACTED',
  /** A leadership operation was attempted by a candidate that is no longer leader. */
  NOT_LEADER: 'NOT_LEADER',
  /** A lock, permit or claim was lost while it was being used. */
  LOCK_LOST: 'LOCK_LOST',
  /** A conditional write found that the state changed since it was read. */
  CONFLICT: 'CONFLICT',
  /** A write may or may not have been applied (its reply was lost); it was not re-sent blindly. */
  UNKNOWN_OUTCOME: 'UNKNOWN_OUTCOME',
  /** An argument was wrong; the message names it. Nothing was written. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** etcd could not be reached, or has no leader. Nothing was written. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** etcd refused the operation for the authenticated user. */
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  /** The revision went backwards (cluster restored from an older snapshot). */
  REVISION_REGRESSED: 'REVISION_REGRESSED',
  /** The object was closed, so the call cannot proceed. */
  CLOSED: 'CLOSED',
  /** A payload stored in etcd could not be decoded. */
  DECODE_FAILED: 'DECODE_FAILED',
  /** Anything etcd reported that fits no other code; see `cause`. */
  INTERNAL: 'INTERNAL',
} as const;

/** One of the {@link ErrorCodes} values. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Extra, code-specific facts an error carries. */
export interface CoordErrorDetails {
  /** The underlying etcd, gRPC or validation error. */
  readonly cause?: unknown;
  /** The key the operation was about, when there is one. */
  readonly key?: string;
  /** With `COMPACTED`: the oldest revision still available. */
  readonly compactRevision?: bigint;
  /** With validation failures: the issues reported by the schema. */
  readonly issues?: readonly unknown[];
  /** With `CONFLICT`: the revision or value found instead of the expected one. */
  readonly current?: unknown;
}

/**
 * The only error type coordkit throws. `code` tells what happened; `cause` keeps the etcd/gRPC
 * error underneath; the message names the key or primitive concerned.
 */
export class CoordError extends Error {
  override readonly name = 'CoordError';
  readonly code: ErrorCode;
  readonly key: string | undefined;
  readonly compactRevision: bigint | undefined;
  readonly issues: readonly unknown[] | undefined;
  readonly current: unknown;

  constructor(code: ErrorCode, message: string, details: CoordErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.key = details.key;
    this.compactRevision = details.compactRevision;
    this.issues = details.issues;
    this.current = details.current;
  }

  /** Whether `err` is a CoordError, optionally with the given code. */
  static is(err: unknown, code?: ErrorCode): err is CoordError {
    return err instanceof CoordError && (code === undefined || err.code === code);
  }
}

/** Throws `INVALID_ARGUMENT` naming `argument` unless `ok` holds. */
export function assertArgument(ok: unknown, argument: string, requirement: string): asserts ok {
  if (!ok) {
    throw new CoordError(ErrorCodes.INVALID_ARGUMENT, `invalid ${argument}: ${requirement}`);
  }
}
