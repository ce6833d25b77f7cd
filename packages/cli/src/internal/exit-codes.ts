/** Exit codes of `coord`, after BSD sysexits where one fits. */
export const ExitCodes = {
  OK: 0,
  /** Any CoordError or unexpected failure. */
  FAILURE: 1,
  /** Bad command line. */
  USAGE: 64,
  /** The lock or leadership could not be taken within `--timeout` (EX_TEMPFAIL: try again later). */
  NOT_ACQUIRED: 75,
  /** The command was stopped because the lock or leadership was lost. */
  LOST: 76,
} as const;
