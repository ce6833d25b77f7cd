import { Queue } from '@coordkit/queue';
import type { CommandContext } from '../internal/context.js';
import { ExitCodes } from '../internal/exit-codes.js';
import { positional, UsageError } from '../internal/usage-error.js';

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`--${flag} must be an integer`);
  return n;
}

/** `coord queue push|pop|stats|dead <name>`: pop takes one job, prints it and acks it. */
export async function queueCommand(
  ctx: CommandContext,
  args: readonly string[],
  flags: {
    readonly priority?: string | undefined;
    readonly delay?: string | undefined;
    readonly id?: string | undefined;
  },
): Promise<number> {
  const action = positional(args, 0, 'push|pop|stats|dead');
  const name = positional(args, 1, 'name');
  await using queue = new Queue<unknown>(await ctx.session(), name);
  switch (action) {
    case 'push': {
      const priority = integer(flags.priority, 'priority');
      const delay = integer(flags.delay, 'delay');
      const result = await queue.enqueue(parseData(positional(args, 2, 'data')), {
        ...(priority === undefined ? {} : { priority }),
        ...(delay === undefined ? {} : { delay }),
        ...(flags.id === undefined ? {} : { id: flags.id }),
      });
      ctx.print(
        result,
        () => `${result.duplicate ? 'already queued' : 'queued'} ${result.id} (revision ${result.revision})`,
      );
      return ExitCodes.OK;
    }
    case 'pop': {
      const job = await queue.dequeue({
        signal: ctx.signal,
        ...(ctx.flags.timeout === undefined ? {} : { timeout: ctx.flags.timeout }),
      });
      await job.ack();
      ctx.print({ id: job.id, attempt: job.attempt, data: job.data }, () => JSON.stringify(job.data));
      return ExitCodes.OK;
    }
    case 'stats': {
      const stats = await queue.stats();
      ctx.print(
        stats,
        () =>
          `ready ${stats.ready}  delayed ${stats.delayed}  inflight ${stats.inflight}  dead ${stats.dead}`,
      );
      return ExitCodes.OK;
    }
    case 'dead': {
      const dead = await queue.deadLetters();
      ctx.print(dead, () =>
        dead.length === 0
          ? 'no dead letters'
          : dead.map((d) => `${d.id}\t${String(d.lastError ?? '')}`).join('\n'),
      );
      return ExitCodes.OK;
    }
    default:
      throw new UsageError(`unknown queue action "${action}"`);
  }
}
