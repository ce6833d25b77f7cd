import { readFile } from 'node:fs/promises';
import {
  ConfigWatch,
  exportConfig,
  formatFlatFile,
  formatJsonFile,
  importConfig,
  parseFlatFile,
  parseJsonFile,
} from '@coordkit/config-watch';
import type { CommandContext } from '../internal/context.js';
import { ExitCodes } from '../internal/exit-codes.js';
import { positional, UsageError } from '../internal/usage-error.js';

function parseAssignments(args: readonly string[]): Record<string, unknown> {
  const entries: Record<string, unknown> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new UsageError(`expected path=value (or path= to delete), got "${arg}"`);
    const path = arg.slice(0, eq);
    const text = arg.slice(eq + 1);
    // Same mapping watchers use: JSON when it parses, a string otherwise; empty deletes.
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // A plain string.
    }
    entries[path] = text === '' ? undefined : value;
  }
  if (Object.keys(entries).length === 0) throw new UsageError('config set needs at least one path=value');
  return entries;
}

/** `coord config get|set|watch|import|export <prefix> ...`. */
export async function configCommand(ctx: CommandContext, args: readonly string[]): Promise<number> {
  const action = positional(args, 0, 'get|set|watch|import|export');
  const prefix = positional(args, 1, 'prefix');
  switch (action) {
    case 'get': {
      await using config = await ConfigWatch.open<Record<string, unknown>>(ctx.client, prefix);
      ctx.print({ revision: config.revision, value: config.value }, () =>
        JSON.stringify(config.value, null, 2),
      );
      return ExitCodes.OK;
    }
    case 'export': {
      const flat = await exportConfig(ctx.client, prefix);
      ctx.io.out(ctx.flags.json ? formatJsonFile(flat) : formatFlatFile(flat).trimEnd());
      return ExitCodes.OK;
    }
    case 'set': {
      await using config = await ConfigWatch.open<Record<string, unknown>>(ctx.client, prefix);
      const result = await config.set(parseAssignments(args.slice(2)));
      ctx.print(result, () => `written at revision ${result.revision}`);
      return ExitCodes.OK;
    }
    case 'import': {
      const file = positional(args, 2, 'file');
      const text = await readFile(file, 'utf8');
      const flat = file.endsWith('.json') ? parseJsonFile(text) : parseFlatFile(text);
      const result = await importConfig(ctx.client, prefix, flat);
      ctx.print(result, () => `imported ${Object.keys(flat).length} keys at revision ${result.revision}`);
      return ExitCodes.OK;
    }
    case 'watch': {
      await using config = await ConfigWatch.open<Record<string, unknown>>(ctx.client, prefix, {
        signal: ctx.signal,
        onError: (report) =>
          ctx.io.err(`coord: invalid config at revision ${report.revision}: ${report.error.message}`),
      });
      ctx.print(
        { revision: config.revision, value: config.value },
        () => `${config.revision}: ${JSON.stringify(config.value)}`,
      );
      for await (const change of config.changes()) {
        ctx.print(
          change,
          () => `${change.revision}: ${change.changed.join(', ')} -> ${JSON.stringify(change.value)}`,
        );
      }
      return ExitCodes.OK;
    }
    default:
      throw new UsageError(`unknown config action "${action}"`);
  }
}
