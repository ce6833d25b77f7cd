import { parseArgs } from 'node:util';
import { CoordError } from '@coordkit/core';
import { configCommand } from './commands/config.js';
import { counterCommand } from './commands/counter.js';
import { electCommand } from './commands/elect.js';
import { lockCommand } from './commands/lock.js';
import { pubCommand, subCommand } from './commands/pubsub.js';
import { queueCommand } from './commands/queue.js';
import { servicesCommand } from './commands/services.js';
import { statusCommand } from './commands/status.js';
import { CommandContext, type GlobalFlags, type Io } from './internal/context.js';
import { ExitCodes } from './internal/exit-codes.js';
import { UsageError } from './internal/usage-error.js';

export const USAGE = `usage: coord [flags] <command> ...

  lock <name> [--timeout ms] -- <cmd...>     run cmd holding the lock (compatible with etcdctl lock)
  elect <name> [value] -- <cmd...>           run cmd only while leader (compatible with etcdctl elect)
  elect <name> --observe                     print every leader change
  config get|watch|export <prefix>           read, follow or dump a configuration prefix
  config set <prefix> <path=value...>        write several keys in one transaction
  config import <prefix> <file>              load a flat (path=value) or JSON file in one transaction
  queue push <name> <data> [--priority n] [--delay ms] [--id id]
  queue pop|stats|dead <name>                take and ack one job / depths / dead letters
  counter get|add <name> [delta]             read or add to a counter
  pub <topic> <message>                      publish one message
  sub <topic> [--from latest|earliest|<rev>] print messages as they come
  services <service>                         list registered instances
  status [--prefix p]                        holders, leaders, queues and counters at a glance

flags:
  --endpoints h:p[,h:p]  etcd endpoints (default ETCD_ENDPOINTS, else 127.0.0.1:2379)
  --json                 machine-readable output
  --ttl s                session lease TTL (default 10)
  --timeout ms           give up waiting after ms
  --grace ms             SIGTERM-to-SIGKILL grace when a lock/leadership is lost (default 5000)
  --cacert/--cert/--key  TLS files (default ETCD_CACERT/ETCD_CERT/ETCD_KEY)
  --user name:password   etcd authentication (default ETCD_USER)`;

const options = {
  endpoints: { type: 'string' },
  json: { type: 'boolean', default: false },
  ttl: { type: 'string' },
  timeout: { type: 'string' },
  grace: { type: 'string' },
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  user: { type: 'string' },
  observe: { type: 'boolean', default: false },
  priority: { type: 'string' },
  delay: { type: 'string' },
  id: { type: 'string' },
  from: { type: 'string' },
  prefix: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function integerFlag(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer >= ${min}`);
  return n;
}

// parseArgs reads `-2` as an (unknown) short option, so `counter add n -2` and `--priority -5`
// would be usage errors: negative numbers are hidden from it behind a prefix no argument can carry.
const NEGATIVE_NUMBER = /^-\d+$/;
const SHIELD = '\0';
const shieldNegative = (arg: string) => (NEGATIVE_NUMBER.test(arg) ? `${SHIELD}${arg}` : arg);
const unshieldNegative = (arg: string) => (arg.startsWith(SHIELD) ? arg.slice(SHIELD.length) : arg);

// gRPC messages can span lines (a TLS handshake failure carries OpenSSL's text, a newline and a
// timestamp); an error must stay one line, so scripts can grep it and logs keep one entry per failure.
const oneLine = (message: string) => message.replace(/\s*\n\s*/g, ' ').trim();

const defaultIo: Io = { out: (line) => console.log(line), err: (line) => console.error(line) };

/**
 * Runs one `coord` command line and resolves with its exit code. Errors become one line on stderr
 * with the CoordError code, never a stack trace.
 */
export async function run(
  argv: readonly string[],
  io: Io = defaultIo,
  signal?: AbortSignal,
): Promise<number> {
  const separator = argv.indexOf('--');
  const own = separator === -1 ? argv : argv.slice(0, separator);
  const command = separator === -1 ? [] : argv.slice(separator + 1);
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: own.map(shieldNegative), options, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`coord: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return ExitCodes.USAGE;
  }
  const values = Object.fromEntries(
    Object.entries(parsed.values).map(([k, v]) => [k, typeof v === 'string' ? unshieldNegative(v) : v]),
  ) as typeof parsed.values;
  const positionals = parsed.positionals.map(unshieldNegative);
  if (values.help || positionals.length === 0) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? ExitCodes.OK : ExitCodes.USAGE;
  }
  const controller = new AbortController();
  signal?.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  try {
    const flags: GlobalFlags = {
      endpoints: values.endpoints,
      json: values.json,
      ttl: integerFlag(values.ttl, 'ttl', 1) ?? 10,
      timeout: integerFlag(values.timeout, 'timeout', 0),
      cacert: values.cacert,
      cert: values.cert,
      key: values.key,
      user: values.user,
    };
    const grace = integerFlag(values.grace, 'grace', 0) ?? 5000;
    await using ctx = new CommandContext(flags, io, controller.signal);
    const [name, ...rest] = positionals;
    switch (name) {
      case 'lock':
        return await lockCommand(ctx, rest, command, grace);
      case 'elect':
        return await electCommand(ctx, rest, command, grace, values.observe);
      case 'config':
        return await configCommand(ctx, rest);
      case 'queue':
        return await queueCommand(ctx, rest, {
          priority: values.priority,
          delay: values.delay,
          id: values.id,
        });
      case 'counter':
        return await counterCommand(ctx, rest);
      case 'pub':
        return await pubCommand(ctx, rest);
      case 'sub':
        return await subCommand(ctx, rest, values.from);
      case 'services':
        return await servicesCommand(ctx, rest, values.prefix);
      case 'status':
        return await statusCommand(ctx, values.prefix);
      default:
        throw new UsageError(`unknown command "${name}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`coord: ${err.message}\n${USAGE}`);
      return ExitCodes.USAGE;
    }
    if (err instanceof CoordError) {
      io.err(`coord: ${err.code}: ${oneLine(err.message)}`);
      return ExitCodes.FAILURE;
    }
    io.err(`coord: ${oneLine(err instanceof Error ? err.message : String(err))}`);
    return ExitCodes.FAILURE;
  }
}
