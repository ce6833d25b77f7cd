import { connect, createServer, type Socket } from 'node:net';
import { type ProxyMode, ProxyPipe } from './internal/proxy-pipe.js';

/** Traffic counters of a {@link FaultProxy}. */
export interface ProxyStats {
  /** Connections open right now. */
  readonly connections: number;
  /** Connections accepted since the proxy started. */
  readonly totalConnections: number;
  /** Bytes forwarded client → server. */
  readonly bytesUp: number;
  /** Bytes forwarded server → client. */
  readonly bytesDown: number;
}

/**
 * A TCP proxy in front of one etcd endpoint that can cut, stall, delay or slow the connections through it.
 *
 * Byte order is preserved in every mode; held bytes are delivered, in order, by {@link FaultProxy.heal}.
 */
export interface FaultProxy extends AsyncDisposable {
  /** The proxy's own endpoint, `127.0.0.1:port`: give this to the client instead of the target. */
  readonly endpoint: string;
  /** The `host:port` the proxy forwards to. */
  readonly target: string;
  /** Destroys every open connection with a TCP RST (clients see ECONNRESET); new connections are accepted. */
  reset(): void;
  /**
   * Passes no byte in either direction while sockets stay open and new ones are accepted, like a network
   * that drops packets: the client sees no error, only silence. Bytes are held for {@link FaultProxy.heal}.
   */
  blackhole(): void;
  /** Ends blackhole, delay and throttle, and delivers every held byte in order. */
  heal(): void;
  /** Holds every server → client chunk `ms` milliseconds before delivering it (0 to stop). */
  delay(ms: number): void;
  /** Limits server → client bandwidth to `bytesPerSecond` per connection (Infinity to stop). */
  throttle(bytesPerSecond: number): void;
  /** Traffic counters so far. */
  stats(): ProxyStats;
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly pipes: readonly [up: ProxyPipe, down: ProxyPipe];
}

/**
 * Starts a {@link FaultProxy} on a free loopback port that forwards every connection to `target`
 * (`host:port`), passing traffic unchanged until a fault is switched on.
 */
export async function faultProxy(target: string): Promise<FaultProxy> {
  const { host, port } = parseTarget(target);
  const mode: ProxyMode = { blackholed: false, delayMs: 0, bytesPerSecond: Number.POSITIVE_INFINITY };
  const links = new Set<Link>();
  const counters = { totalConnections: 0, bytesUp: 0, bytesDown: 0 };

  const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    counters.totalConnections++;
    const upstream = connect({ host, port, allowHalfOpen: true, noDelay: true });
    const up = new ProxyPipe(client, upstream, mode, false, (n) => (counters.bytesUp += n));
    const down = new ProxyPipe(upstream, client, mode, true, (n) => (counters.bytesDown += n));
    const link: Link = { client, upstream, pipes: [up, down] };
    links.add(link);
    let connected = false;
    upstream.once('connect', () => (connected = true));
    // Errors are handled through `close`; these listeners only keep them from becoming uncaught.
    client.on('error', () => {});
    upstream.on('error', () => {});
    client.on('close', () => {
      forget(link);
      upstream.destroy();
    });
    upstream.on('close', (hadError) => {
      // A target that refuses or resets reaches the client as a reset too, as it would without the proxy.
      if (hadError || !connected) {
        forget(link);
        if (!client.destroyed) client.resetAndDestroy();
      } else {
        down.endSource();
      }
    });
    // After the target has gone and its last bytes were delivered, nothing more can happen on this link.
    client.on('finish', () => {
      if (upstream.destroyed) client.destroy();
    });
  });

  function forget(link: Link): void {
    links.delete(link);
    for (const pipe of link.pipes) pipe.close();
  }

  function pumpAll(): void {
    for (const link of links) for (const pipe of link.pipes) pipe.pump();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  // Accept errors (EMFILE and the like) only cost the connection being accepted; they must not crash the test.
  server.on('error', () => {});
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('faultProxy: listener has no TCP address');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const link of [...links]) {
        forget(link);
        link.client.destroy();
        link.upstream.destroy();
      }
    });
    return closing;
  };

  return {
    endpoint: `127.0.0.1:${address.port}`,
    target,
    reset() {
      for (const link of [...links]) {
        forget(link);
        link.client.resetAndDestroy();
        if (!link.upstream.destroyed) link.upstream.resetAndDestroy();
      }
    },
    blackhole() {
      mode.blackholed = true;
    },
    heal() {
      mode.blackholed = false;
      mode.delayMs = 0;
      mode.bytesPerSecond = Number.POSITIVE_INFINITY;
      pumpAll();
    },
    delay(ms) {
      if (!(ms >= 0)) throw new RangeError(`faultProxy.delay: ms must be >= 0, got ${ms}`);
      mode.delayMs = ms;
      pumpAll();
    },
    throttle(bytesPerSecond) {
      if (!(bytesPerSecond > 0)) {
        throw new RangeError(`faultProxy.throttle: bytesPerSecond must be > 0, got ${bytesPerSecond}`);
      }
      mode.bytesPerSecond = bytesPerSecond;
      for (const link of links) link.pipes[1].resetBudget();
      pumpAll();
    },
    stats: () => ({ connections: links.size, ...counters }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

function parseTarget(target: string): { host: string; port: number } {
  const match = /^(?:[a-z]+:\/\/)?(\[[^\]]+\]|[^:/]+):(\d+)\/?$/i.exec(target);
  const port = Number(match?.[2]);
  if (match === null || !(port > 0 && port < 65_536)) {
    throw new RangeError(`faultProxy: target must be host:port, got ${JSON.stringify(target)}`);
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}
