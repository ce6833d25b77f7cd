/** A command line that cannot be run; printed with the usage text and exit code 64. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Returns positional `index`, or throws a UsageError naming it. */
export function positional(args: readonly string[], index: number, name: string): string {
  const value = args[index];
  if (value === undefined || value === '') throw new UsageError(`missing <${name}>`);
  return value;
}
