import { CasCounter } from '@coordkit/cas-counter';
import type { CommandContext } from '../internal/context.js';
import { ExitCodes } from '../internal/exit-codes.js';
import { positional, UsageError } from '../internal/usage-error.js';

function parseDelta(text: string | undefined): bigint {
  if (text === undefined) return 1n;
  if (!/^-?\d+$/.test(text)) throw new UsageError(`<delta> must be an integer, got "${text}"`);
  return BigInt(text);
}

/** `coord counter get|add <name> [delta]`. */
export async function counterCommand(ctx: CommandContext, args: readonly string[]): Promise<number> {
  const action = positional(args, 0, 'get|add');
  const name = positional(args, 1, 'name');
  // The counter holds nothing in etcd; `await using` only marks it closed on the way out.
  await using counter = new CasCounter(ctx.client, name);
  if (action === 'get') {
    const value = await counter.get();
    ctx.print({ name, value }, () => value.toString());
  } else if (action === 'add') {
    const value = await counter.add(parseDelta(args[2]));
    ctx.print({ name, value }, () => value.toString());
  } else {
    throw new UsageError(`unknown counter action "${action}"`);
  }
  return ExitCodes.OK;
}
