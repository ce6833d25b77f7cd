import { watchService } from '@coordkit/discovery';
import type { CommandContext } from '../internal/context.js';
import { ExitCodes } from '../internal/exit-codes.js';
import { positional } from '../internal/usage-error.js';

/** `coord services <service> [--prefix p]`: lists the registered instances (draining ones marked). */
export async function servicesCommand(
  ctx: CommandContext,
  args: readonly string[],
  prefix: string | undefined,
): Promise<number> {
  const service = positional(args, 0, 'service');
  await using watch = watchService(ctx.client, service, prefix ? { prefix } : {});
  await watch.ready;
  const instances = watch.allInstances();
  ctx.print(instances, () =>
    instances.length === 0
      ? `no instances of ${service}`
      : instances
          .map(
            (i) => `${i.id}\t${i.address}${i.draining ? '\t(draining)' : ''}\t${JSON.stringify(i.metadata)}`,
          )
          .join('\n'),
  );
  return ExitCodes.OK;
}
