import { CoordError, ErrorCodes } from '@coordkit/core';
import { Election } from '@coordkit/election';
import type { CommandContext } from '../internal/context.js';
import { ExitCodes } from '../internal/exit-codes.js';
import { runWhileHeld } from '../internal/run-child.js';
import { positional, UsageError } from '../internal/usage-error.js';

/**
 * `coord elect <name> [value] -- <cmd...>`: runs the command only while leader (keys compatible
 * with `etcdctl elect`), exporting `COORD_FENCING_TOKEN` and `COORD_LEADER_KEY`; stops it when
 * leadership is lost. `coord elect <name> --observe` prints every leader change.
 */
export async function electCommand(
  ctx: CommandContext,
  args: readonly string[],
  command: readonly string[],
  graceMs: number,
  observe: boolean,
): Promise<number> {
  const name = positional(args, 0, 'name');
  const election = new Election(await ctx.session(), name);
  if (observe) {
    for await (const leader of election.observe({ signal: ctx.signal })) {
      ctx.print(leader ?? null, () =>
        leader ? `leader ${leader.value} (token ${leader.fencingToken}, key ${leader.key})` : 'no leader',
      );
    }
    return ExitCodes.OK;
  }
  if (command.length === 0)
    throw new UsageError('missing -- <command...> to run while leader (or --observe)');
  const value = args[1] ?? `${process.env.HOSTNAME ?? 'coord'}-${process.pid}`;
  let leadership: Awaited<ReturnType<Election['campaign']>>;
  try {
    leadership = await election.campaign(value, {
      signal: ctx.signal,
      ...(ctx.flags.timeout === undefined ? {} : { timeout: ctx.flags.timeout }),
    });
  } catch (err) {
    if (CoordError.is(err, ErrorCodes.TIMEOUT)) {
      ctx.io.err(`coord: not elected leader of "${name}" within ${ctx.flags.timeout} ms`);
      return ExitCodes.NOT_ACQUIRED;
    }
    throw err;
  }
  try {
    const outcome = await runWhileHeld(
      command,
      { COORD_FENCING_TOKEN: leadership.fencingToken.toString(), COORD_LEADER_KEY: leadership.key },
      leadership.signal,
      graceMs,
    );
    if (outcome.stoppedOnLoss) {
      ctx.io.err(`coord: leadership of "${name}" lost; command stopped`);
      return ExitCodes.LOST;
    }
    return outcome.code;
  } finally {
    await leadership.resign().catch(() => undefined);
  }
}
