import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startProcess } from './helpers.js';

const DEMO = fileURLToPath(new URL('../dist/demo/main.js', import.meta.url));

describe('pnpm demo', () => {
  it('runs to the end within 60 s and every summary check holds', async () => {
    // The demo starts its own etcd; ETCD_ENDPOINTS from the shared one must not leak into its workers.
    const env = { ...process.env };
    delete env.ETCD_ENDPOINTS;
    const demo = startProcess(process.execPath, [DEMO], env);
    const timer = setTimeout(() => void demo.stop(), 60_000);
    try {
      const finished = await demo.exited;
      expect(finished.signal, `demo killed after 60 s:\n${finished.stdout}`).toBeNull();
      expect(finished.code, finished.stdout + finished.stderr).toBe(0);
      expect(finished.stdout).toContain('demo passed');
      const summary = finished.stdout.split('\n').filter((line) => /^\s+(ok|FAIL)\s/.test(line));
      expect(summary.map((line) => line.trim().replace(/:.*$/, ''))).toEqual([
        'ok   no job lost',
        'ok   no two holders of a lock at once',
        'ok   one leader at a time',
        'ok   counter exact',
      ]);
    } finally {
      clearTimeout(timer);
      await demo.stop();
    }
  }, 75_000);
});
