import { CoordError, ErrorCodes } from '@coordkit/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { ConfigErrorReport } from '../types.js';

/** The `DECODE_FAILED` error of a stored config that failed validation and was not applied. */
export function invalidConfig(
  prefix: string,
  revision: bigint,
  issues: readonly StandardSchemaV1.Issue[],
): CoordError {
  return new CoordError(
    ErrorCodes.DECODE_FAILED,
    `config "${prefix}" at revision ${revision} is invalid and was not applied: ${describeIssues(issues)}`,
    { issues, key: prefix },
  );
}

/** The first few issues as `path: message`, for error messages. */
export function describeIssues(issues: readonly StandardSchemaV1.Issue[]): string {
  const shown = issues.slice(0, 3).map((issue) => {
    const path = (issue.path ?? []).map((segment) =>
      String(typeof segment === 'object' ? segment.key : segment),
    );
    return path.length > 0 ? `${path.join('.')}: ${issue.message}` : issue.message;
  });
  return issues.length > 3 ? `${shown.join('; ')} (and ${issues.length - 3} more)` : shown.join('; ');
}

/** The default `onError`: a Node process warning, so an invalid config is never silently ignored. */
export function warn(report: ConfigErrorReport): void {
  process.emitWarning(report.error.message, { type: 'CoordkitConfigWarning', code: report.error.code });
}
