import { readFileSync } from 'node:fs';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { ConsecutiveBreaker, circuitBreaker, handleWhen, noop } from 'cockatiel';
import { Etcd3, type IOptions, isRecoverableError } from 'etcd3';
import { assertArgument } from './errors.js';
import { shutdownHub } from './internal/watch-hub.js';

/** TLS material: PEM contents as a Buffer, or a path to a PEM file. */
export type PemSource = Buffer | string;

/** Options of {@link createClient}. Every field is optional. */
export interface ClientOptions {
  /** etcd client endpoints (`host:port` or URLs). Default: `ETCD_ENDPOINTS` (comma separated), else `127.0.0.1:2379`. */
  readonly endpoints?: string | readonly string[];
  /** TLS to etcd. `ca` verifies the server; `cert` + `key` authenticate the client (mTLS). Default: `ETCD_CACERT`, `ETCD_CERT`, `ETCD_KEY` when set. */
  readonly tls?: { readonly ca?: PemSource; readonly cert?: PemSource; readonly key?: PemSource };
  /** etcd user and password; the auth token is refreshed when etcd invalidates it. Default: `ETCD_USER` as `name:password`. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** Deadline of each unary request in ms (streams have none). Default 5000. */
  readonly requestTimeout?: number;
  /** gRPC keepalive ping interval in ms (etcd refuses pings more often than every 5 s). Default 10000. */
  readonly keepaliveTime?: number;
  /** How long a keepalive ping may go unanswered before the connection is dropped, ms. Default 5000. */
  readonly keepaliveTimeout?: number;
  /**
   * Ask etcd to refuse requests and end watch streams on a member that has no leader
   * (etcd's `hasleader` metadata), so that a partitioned member never serves a stale answer. Default true.
   */
  readonly requireLeader?: boolean;
  /** How long a member that failed is skipped before it is tried again, ms. Default 250. */
  readonly memberRetryAfter?: number;
}

const requireLeaderInterceptor: Interceptor = (options, nextCall) =>
  new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set('hasleader', 'true');
      next(metadata, listener);
    },
  });

function pem(source: PemSource | undefined): Buffer | undefined {
  if (source === undefined) return undefined;
  return typeof source === 'string' ? readFileSync(source) : source;
}

function endpointsFrom(options: ClientOptions): string[] {
  const configured = options.endpoints ?? process.env.ETCD_ENDPOINTS ?? '127.0.0.1:2379';
  const list = (typeof configured === 'string' ? configured.split(',') : [...configured])
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  assertArgument(list.length > 0, 'endpoints', 'at least one etcd endpoint');
  return list;
}

function authFrom(options: ClientOptions): ClientOptions['auth'] {
  if (options.auth) return options.auth;
  const user = process.env.ETCD_USER;
  if (!user) return undefined;
  const colon = user.indexOf(':');
  assertArgument(colon > 0, 'ETCD_USER', 'the form name:password');
  return { username: user.slice(0, colon), password: user.slice(colon + 1) };
}

const requestTimeouts = new WeakMap<Etcd3, number>();

/** The unary request deadline configured for a client by {@link createClient} (5000 ms otherwise). */
export function requestTimeoutOf(client: Etcd3): number {
  return requestTimeouts.get(client) ?? 5000;
}

/**
 * Creates an etcd3 client with coordkit's safe defaults: no blind retry of a write whose outcome
 * is unknown (etcd3 by default re-sends failed calls up to three times, writes included), a short
 * member skip after a failure instead of etcd3's 5 s circuit breaker, gRPC keepalive, per-request
 * deadlines, and `requireLeader`. Close it with `client.close()`.
 */
export function createClient(options: ClientOptions = {}): Etcd3 {
  const requestTimeout = options.requestTimeout ?? 5000;
  assertArgument(requestTimeout > 0, 'requestTimeout', 'a positive number of milliseconds');
  const tls = options.tls ?? {
    ...(process.env.ETCD_CACERT ? { ca: process.env.ETCD_CACERT } : {}),
    ...(process.env.ETCD_CERT ? { cert: process.env.ETCD_CERT } : {}),
    ...(process.env.ETCD_KEY ? { key: process.env.ETCD_KEY } : {}),
  };
  const ca = pem(tls.ca);
  const cert = pem(tls.cert);
  const key = pem(tls.key);
  assertArgument((cert === undefined) === (key === undefined), 'tls', 'cert and key must be given together');
  const memberRetryAfter = options.memberRetryAfter ?? 250;
  const auth = authFrom(options);
  const etcdOptions: IOptions = {
    hosts: endpointsFrom(options).map((e) => (ca || cert ? e.replace(/^http:/, 'https:') : e)),
    ...(auth ? { auth: { username: auth.username, password: auth.password } } : {}),
    ...(ca || cert
      ? {
          credentials: {
            rootCertificate: ca ?? Buffer.alloc(0),
            ...(key ? { privateKey: key } : {}),
            ...(cert ? { certChain: cert } : {}),
          },
        }
      : {}),
    grpcOptions: {
      'grpc.keepalive_time_ms': options.keepaliveTime ?? 10_000,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeout ?? 5_000,
      // etcd enforces PermitWithoutStream=false: pings with no call open earn a GOAWAY ("excess pings").
      'grpc.keepalive_permit_without_calls': 0,
      'grpc.initial_reconnect_backoff_ms': 50,
      'grpc.max_reconnect_backoff_ms': 1000,
      ...(options.requireLeader === false ? {} : { interceptors: [requireLeaderInterceptor] }),
    } as NonNullable<IOptions['grpcOptions']>,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + requestTimeout }),
    faultHandling: {
      // Never re-send: coordkit decides per operation whether a failed request may be repeated.
      global: noop,
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: memberRetryAfter,
          breaker: new ConsecutiveBreaker(1),
        }),
    },
  };
  const client = new Etcd3(etcdOptions);
  requestTimeouts.set(client, requestTimeout);
  // etcd3's close() closes channels but leaves calls already running (a watch stream) open, which kept
  // processes alive and watchers waiting: end coordkit's watch stream and watchers with it.
  const closeChannels = client.close.bind(client);
  client.close = () => {
    shutdownHub(client);
    closeChannels();
  };
  return client;
}
