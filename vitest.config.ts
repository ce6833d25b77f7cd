import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const packages = readdirSync(new URL('./packages', import.meta.url));

// Tests import every @coordkit package from its TypeScript sources, so `vitest` needs no build;
// child processes spawned by tests import the built dist instead (`pnpm test` builds first).
const alias = packages.map((name) => ({
  find: `@coordkit/${name}`,
  replacement: `${root}packages/${name}/src/index.ts`,
}));

export default defineConfig({
  resolve: { alias },
  test: {
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make etcd's fsync-free timings noisier.
    maxWorkers: 2,
    projects: [
      ...packages.map((name) => ({
        extends: true as const,
        test: { name, include: [`packages/${name}/test/**/*.test.ts`] },
      })),
      { extends: true as const, test: { name: 'examples', include: ['test/examples/**/*.test.ts'] } },
      { extends: true as const, test: { name: 'chaos', include: ['test/chaos/**/*.test.ts'] } },
      { extends: true as const, test: { name: 'security', include: ['test/security/**/*.test.ts'] } },
    ],
  },
});
