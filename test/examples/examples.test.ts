// Every example in examples/ is executed against the run's etcd, so none can rot: each must exit 0
// and print the line its header promises (`// expect: <text>`).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sharedEndpoints } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('../../examples/', import.meta.url));
const examples = readdirSync(dir).filter((f) => f.endsWith('.ts'));

function runExample(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${dir}${file}`], {
      env: {
        ...process.env,
        ETCD_ENDPOINTS: sharedEndpoints().join(','),
        EXAMPLE_PREFIX: `/coordkit-examples/${process.pid}-${Date.now()}/`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('examples', () => {
  it('has examples to run', () => {
    expect(examples.length).toBeGreaterThan(0);
  });
  for (const file of examples) {
    it(`examples/${file} runs and prints what it promises`, async () => {
      const promise = /^\/\/ expect: (.+)$/m.exec(readFileSync(`${dir}${file}`, 'utf8'))?.[1];
      expect(promise, `${file} needs a "// expect: <text>" header line`).toBeTruthy();
      const { code, output } = await runExample(file);
      expect(output).toContain(promise!);
      expect(code, output).toBe(0);
    });
  }
});
