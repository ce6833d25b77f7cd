import { createServer, type Server } from 'node:net';

/**
 * Finds a TCP port that is free on 127.0.0.1 right now, by letting the kernel pick one for a throwaway
 * listener and closing it again.
 *
 * Another process can take the port between this call and its use, so callers that bind it later must be
 * ready to retry with a new one (`startEtcd` does).
 */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/**
 * Finds `count` distinct free ports. All listeners are held open together before any is closed, so the
 * kernel cannot hand the same port out twice within one call.
 * @internal
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string')
      throw new Error('freePort: listener has no TCP address');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}
