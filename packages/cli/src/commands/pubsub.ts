import { Topic } from '@coordkit/pubsub';
import type { CommandContext } from '../internal/context.js';
import { ExitCodes } from '../internal/exit-codes.js';
import { positional, UsageError } from '../internal/usage-error.js';

function parseMessage(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `coord pub <topic> <message>`: publishes one message (JSON when it parses, else a string). */
export async function pubCommand(ctx: CommandContext, args: readonly string[]): Promise<number> {
  const topic = new Topic<unknown>(ctx.client, positional(args, 0, 'topic'));
  const result = await topic.publish(parseMessage(positional(args, 1, 'message')));
  ctx.print(result, () => `published at revision ${result.revision}`);
  return ExitCodes.OK;
}

/** `coord sub <topic> [--from latest|earliest|<revision>]`: prints messages until interrupted. */
export async function subCommand(
  ctx: CommandContext,
  args: readonly string[],
  from: string | undefined,
): Promise<number> {
  const topic = new Topic<unknown>(ctx.client, positional(args, 0, 'topic'));
  let start: bigint | 'latest' | 'earliest' = 'latest';
  if (from === 'earliest' || from === 'latest') start = from;
  else if (from !== undefined) {
    if (!/^\d+$/.test(from)) throw new UsageError('--from takes latest, earliest or a revision');
    start = BigInt(from);
  }
  for await (const message of topic.subscribe({ from: start, signal: ctx.signal })) {
    ctx.print(message, () => `${message.revision}\t${JSON.stringify(message.data)}`);
  }
  return ExitCodes.OK;
}
