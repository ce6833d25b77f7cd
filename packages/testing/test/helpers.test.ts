import { createServer } from 'node:net';
import { freePort, SHARED_ENDPOINTS_ENV, sharedEndpoints, uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, inject, test } from 'vitest';

describe('uniquePrefix', () => {
  test('gives each call its own prefix under /coordkit-test/', () => {
    const a = uniquePrefix('lock');
    const b = uniquePrefix('lock');
    expect(a).toMatch(/^\/coordkit-test\/lock-[0-9a-f]{12}\/$/);
    expect(a).not.toBe(b);
    expect(uniquePrefix()).toMatch(/^\/coordkit-test\/test-/);
  });
});

describe('waitFor', () => {
  test('resolves with the first truthy value', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { interval: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  test('treats a throwing attempt as not yet', async () => {
    let calls = 0;
    expect(
      await waitFor(async () => {
        if (++calls < 3) throw new Error('not ready');
        return 'ready';
      }),
    ).toBe('ready');
  });

  test('rejects after the timeout with the message and the last error as cause', async () => {
    const failure = waitFor(
      () => {
        throw new Error('still booting');
      },
      { timeout: 100, message: 'the service to boot' },
    );
    await expect(failure).rejects.toThrow(/timed out after 100 ms .*the service to boot.*still booting/);
    await expect(failure).rejects.toHaveProperty('cause.message', 'still booting');
  });

  test('does not hang on a condition that never settles', async () => {
    const started = performance.now();
    await expect(waitFor(() => new Promise<never>(() => {}), { timeout: 100 })).rejects.toThrow(/timed out/);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  test('rejects with the signal reason when aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const waiting = waitFor(() => false, { signal: controller.signal });
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
  });
});

describe('freePort', () => {
  test('returns a port that can be listened on', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    expect((server.address() as import('node:net').AddressInfo).port).toBe(port);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe('sharedEndpoints', () => {
  test('returns the healthy etcd the global setup provided', async () => {
    const endpoints = sharedEndpoints();
    expect(endpoints).toEqual(inject('etcdEndpoints'));
    const health = await fetch(`http://${endpoints[0]}/health`).then((res) => res.json());
    expect(health).toMatchObject({ health: 'true' });
  });

  test('explains itself when the variable is unset', () => {
    const saved = process.env[SHARED_ENDPOINTS_ENV];
    delete process.env[SHARED_ENDPOINTS_ENV];
    try {
      expect(() => sharedEndpoints()).toThrow(/COORDKIT_TEST_ENDPOINTS is not set.*global-setup/);
    } finally {
      process.env[SHARED_ENDPOINTS_ENV] = saved;
    }
  });
});
