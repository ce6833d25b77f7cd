import { uniquePrefix } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { baseEnv, coord } from './helpers.js';

describe.concurrent('coord errors', () => {
  it('an unknown command exits 64 with the usage text', async () => {
    const result = await coord(['frobnicate']);
    expect(result.code).toBe(64);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('coord: unknown command "frobnicate"');
    expect(result.stderr).toContain('usage: coord');
  });

  it('no command or an unknown flag exits 64; --help prints usage and exits 0', async () => {
    const none = await coord([]);
    expect(none.code).toBe(64);
    expect(none.stderr).toContain('usage: coord');
    const flag = await coord(['--no-such-flag', 'status']);
    expect(flag.code).toBe(64);
    expect(flag.stderr).toContain('usage: coord');
    const help = await coord(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: coord');
  });

  it('an unreachable etcd gives one clear UNAVAILABLE line and a non-zero exit', async () => {
    const result = await coord(['--endpoints', '127.0.0.1:1', '--timeout', '1000', 'counter', 'get', 'x']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^coord: UNAVAILABLE: /);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('never prints the password given with --user or ETCD_USER', async () => {
    const name = `${uniquePrefix('cli-secret')}c`;
    const runs = await Promise.all([
      // Unreachable etcd: the error message must not carry the credentials.
      coord(['--endpoints', '127.0.0.1:1', '--user', 'root:s3cret', 'status']),
      // Reachable etcd without auth enabled: etcd refuses, the message must not echo the password.
      coord(['--user', 'root:s3cret', 'counter', 'get', name]),
      // A usage error prints the usage text, not the flags given.
      coord(['--user', 'root:s3cret', 'nonsense']),
      coord(['--user', 'root:s3cret', '--help']),
      coord(['counter', 'get', name], baseEnv({ ETCD_USER: 'root:s3cret' })),
    ]);
    for (const run of runs) {
      expect(run.code).not.toBeNull();
      expect(`${run.stdout}${run.stderr}`).not.toContain('s3cret');
    }
    expect(runs.map((r) => r.code)).toEqual([1, 1, 64, 0, 1]);
  });
});
