import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Agent } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { faultProxy, freePort, sharedEndpoints, uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, test } from 'vitest';
import { get, put } from './etcd-http.js';

/** Resolves 'pending' when `promise` has not settled after `ms`: the one place a fixed wait is the point. */
async function stillPendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, ms));
  return !settled;
}

describe('faultProxy in front of etcd', () => {
  const etcd = sharedEndpoints()[0]!;

  test('passes traffic unchanged and counts it', async () => {
    await using proxy = await faultProxy(etcd);
    expect(proxy.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    const key = `${uniquePrefix('proxy')}plain`;
    await put(proxy.endpoint, key, 'through the proxy');
    expect((await get(etcd, key))?.toString()).toBe('through the proxy');
    expect((await get(proxy.endpoint, key))?.toString()).toBe('through the proxy');
    const stats = proxy.stats();
    expect(stats.totalConnections).toBe(2);
    expect(stats.bytesUp).toBeGreaterThan(0);
    expect(stats.bytesDown).toBeGreaterThan(0);
    await waitFor(() => proxy.stats().connections === 0, { message: 'both connections to close' });
  });

  test('blackhole() holds a request, without error, until heal() delivers it', async () => {
    await using proxy = await faultProxy(etcd);
    const key = `${uniquePrefix('proxy')}blackholed`;
    proxy.blackhole();
    const held = put(proxy.endpoint, key, 'late', { timeout: 10_000 });
    expect(await stillPendingAfter(held, 500)).toBe(true);
    // The request never reached etcd, which itself is fine when asked directly.
    expect(await get(etcd, key, { timeout: 1_000 })).toBeUndefined();
    expect(proxy.stats()).toMatchObject({ connections: 1, bytesUp: 0, bytesDown: 0 });

    proxy.heal();
    expect(await held).toBeTypeOf('bigint');
    expect((await get(etcd, key))?.toString()).toBe('late');
  });

  test('reset() fails an in-flight request with ECONNRESET and still accepts new connections', async () => {
    await using proxy = await faultProxy(etcd);
    const key = `${uniquePrefix('proxy')}reset`;
    proxy.blackhole();
    const inFlight = put(proxy.endpoint, key, 'never', { timeout: 10_000 });
    await waitFor(() => proxy.stats().connections === 1, { message: 'the request to connect' });
    proxy.reset();
    await expect(inFlight).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(proxy.stats().connections).toBe(0);

    proxy.heal();
    await put(proxy.endpoint, key, 'after reset');
    expect((await get(etcd, key))?.toString()).toBe('after reset');
  });

  test('reset() fails an idle keep-alive connection with ECONNRESET', async () => {
    await using proxy = await faultProxy(etcd);
    const [host, port] = proxy.endpoint.split(':') as [string, string];
    const socket = connect({ host, port: Number(port) });
    socket.on('error', () => {}); // asserted below through once()
    await once(socket, 'connect');
    let replies = '';
    socket.setEncoding('utf8').on('data', (text: string) => (replies += text));
    socket.write(`GET /health HTTP/1.1\r\nHost: ${proxy.endpoint}\r\nConnection: keep-alive\r\n\r\n`);
    await waitFor(() => replies.includes('"health":"true"'), { message: 'the health reply' });
    // The connection is now idle and kept alive, as a client's pooled connection between requests.
    const failure = once(socket, 'error');
    proxy.reset();
    const [error] = (await failure) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNRESET');
  });

  test('after reset() a keep-alive http.Agent drops its idle connection and reconnects', async () => {
    await using proxy = await faultProxy(etcd);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      let socket: Socket | undefined;
      await get(proxy.endpoint, `${uniquePrefix('proxy')}idle`, { agent, onSocket: (s) => (socket = s) });
      expect(socket?.destroyed).toBe(false); // parked in the agent, idle
      const closed = once(socket!, 'close');
      proxy.reset();
      // Node's agent swallows the ECONNRESET of a free socket ("poisoned socket") and just closes it.
      await closed;
      expect(await get(proxy.endpoint, `${uniquePrefix('proxy')}idle`, { agent })).toBeUndefined();
      expect(proxy.stats().totalConnections).toBe(2);
    } finally {
      agent.destroy();
    }
  });

  test('delay(300) makes every round trip take at least 300 ms, and heal() removes it', async () => {
    await using proxy = await faultProxy(etcd);
    const key = `${uniquePrefix('proxy')}delayed`;
    proxy.delay(300);
    const started = performance.now();
    await put(proxy.endpoint, key, 'slow reply');
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    // The write itself was not held, only its reply.
    expect((await get(etcd, key))?.toString()).toBe('slow reply');

    proxy.heal();
    const fast = performance.now();
    await get(proxy.endpoint, key);
    expect(performance.now() - fast).toBeLessThan(300);
  });

  test('throttle(100 000) stretches a 100 KB reply past a second and keeps every byte in order', async () => {
    await using proxy = await faultProxy(etcd);
    const key = `${uniquePrefix('proxy')}big`;
    const value = randomBytes(100_000);
    await put(etcd, key, value);
    proxy.throttle(100_000);
    const started = performance.now();
    const read = await get(proxy.endpoint, key, { timeout: 10_000 });
    // The reply carries the value base64-encoded (~133 KB), so at 100 KB/s it cannot arrive within 1 s.
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(read?.equals(value)).toBe(true);
  });

  test('a target that refuses connections reaches the client as a reset', async () => {
    await using proxy = await faultProxy(`127.0.0.1:${await freePort()}`);
    await expect(get(proxy.endpoint, 'k', { timeout: 2_000 })).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  test('close() stops accepting connections and is idempotent', async () => {
    const proxy = await faultProxy(etcd);
    await proxy.close();
    await proxy.close();
    await expect(get(proxy.endpoint, 'k', { timeout: 2_000 })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});

describe('faultProxy byte order', () => {
  test('bytes arrive complete and in order while blackhole, delay and throttle switch on and off', async () => {
    const echo = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const address = echo.address() as import('node:net').AddressInfo;
    await using proxy = await faultProxy(`127.0.0.1:${address.port}`);
    const [host, port] = proxy.endpoint.split(':') as [string, string];
    const client = connect({ host, port: Number(port) });
    await once(client, 'connect');
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    const sent: Buffer[] = [];
    let upAtBlackhole = 0;
    const faults = [
      () => {
        proxy.blackhole();
        upAtBlackhole = proxy.stats().bytesUp;
      },
      () => {
        // Lines were written throughout the blackhole, and none of them got through.
        expect(proxy.stats().bytesUp).toBe(upAtBlackhole);
        proxy.heal();
      },
      () => proxy.delay(20),
      () => proxy.throttle(5_000),
      () => proxy.heal(),
    ];
    try {
      for (let i = 0; i < 300; i++) {
        if (i % 15 === 0) faults[(i / 15) % faults.length]!();
        const line = Buffer.from(`${i.toString().padStart(4, '0')}:${'x'.repeat(i % 97)}\n`);
        sent.push(line);
        client.write(line);
        // Pace the writes so that each fault mode sees traffic arrive while it is on.
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      proxy.heal();
      const expected = Buffer.concat(sent);
      await waitFor(() => Buffer.concat(received).length >= expected.length, { message: 'every byte back' });
      expect(Buffer.concat(received).equals(expected)).toBe(true);
    } finally {
      client.destroy();
      await new Promise<void>((resolve) => echo.close(() => resolve()));
    }
  });
});
