import { CoordError, ErrorCodes } from '@coordkit/core';
import { Mutex } from '@coordkit/lock';
import type { CommandContext } from '../internal/context.js';
import { ExitCodes } from '../internal/exit-codes.js';
import { runWhileHeld } from '../internal/run-child.js';
import { positional, UsageError } from '../internal/usage-error.js';

/**
 * `coord lock <name> [--timeout ms] -- <cmd...>`: the distributed `flock`. Holds the lock (keys
 * compatible with `etcdctl lock`) while the command runs, exports `COORD_FENCING_TOKEN` and
 * `COORD_LOCK_KEY`, stops the command if the lock is lost, and exits with the command's code
 * (75 when the lock could not be taken in time, 76 when the command was stopped on loss).
 */
export async function lockCommand(
  ctx: CommandContext,
  args: readonly string[],
  command: readonly string[],
  graceMs: number,
): Promise<number> {
  const name = positional(args, 0, 'name');
  if (command.length === 0) throw new UsageError('missing -- <command...> to run while holding the lock');
  const session = await ctx.session();
  let handle: Awaited<ReturnType<Mutex['lock']>>;
  try {
    handle = await new Mutex(session, name).lock({
      signal: ctx.signal,
      ...(ctx.flags.timeout === undefined ? {} : { timeout: ctx.flags.timeout }),
    });
  } catch (err) {
    if (CoordError.is(err, ErrorCodes.TIMEOUT)) {
      ctx.io.err(`coord: lock "${name}" not acquired within ${ctx.flags.timeout} ms`);
      return ExitCodes.NOT_ACQUIRED;
    }
    throw err;
  }
  try {
    const outcome = await runWhileHeld(
      command,
      { COORD_FENCING_TOKEN: handle.fencingToken.toString(), COORD_LOCK_KEY: handle.key },
      handle.signal,
      graceMs,
    );
    if (outcome.stoppedOnLoss) {
      const reason = handle.signal.reason;
      ctx.io.err(
        `coord: lock "${name}" lost (${reason instanceof Error ? reason.message : String(reason)}); command stopped`,
      );
      return ExitCodes.LOST;
    }
    return outcome.code;
  } finally {
    await handle.release();
  }
}
