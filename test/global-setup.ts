import { SHARED_ENDPOINTS_ENV, startEtcd } from '@coordkit/testing';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Endpoints (`host:port`) of the single-member etcd shared by the whole run. */
    etcdEndpoints: string[];
  }
}

/**
 * Starts one single-member etcd for the whole vitest run and hands it to every test, both through
 * `inject('etcdEndpoints')` and through `COORDKIT_TEST_ENDPOINTS` (read by `sharedEndpoints()`, and by child
 * processes tests spawn). Tests that need faults start their own cluster with `startEtcd()`.
 *
 * The environment variable is set here, before vitest starts its workers, so every worker inherits it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const preset = process.env[SHARED_ENDPOINTS_ENV];
  if (preset !== undefined && preset.trim() !== '') {
    // An etcd chosen by whoever launched the run (or by an outer vitest): use it, start nothing.
    project.provide(
      'etcdEndpoints',
      preset.split(',').map((endpoint) => endpoint.trim()),
    );
    return async () => {};
  }
  const cluster = await startEtcd({ nodes: 1 });
  const endpoints = [...cluster.endpoints];
  project.provide('etcdEndpoints', endpoints);
  process.env[SHARED_ENDPOINTS_ENV] = endpoints.join(',');
  return async () => {
    delete process.env[SHARED_ENDPOINTS_ENV];
    await cluster.stop();
  };
}
