/**
 * The `coord` command line as a library: `run(argv)` resolves with the exit code.
 * @packageDocumentation
 */
export { run, USAGE } from './cli.js';
export type { GlobalFlags, Io } from './internal/context.js';
export { ExitCodes } from './internal/exit-codes.js';
