/** The environment variable through which `test/global-setup.ts` hands its etcd to the test workers. */
export const SHARED_ENDPOINTS_ENV = 'COORDKIT_TEST_ENDPOINTS';

/**
 * Returns the endpoints (`host:port`) of the etcd shared by the whole test run, read from
 * `COORDKIT_TEST_ENDPOINTS` (comma separated), which the vitest global setup sets before any worker starts.
 *
 * Throws an Error explaining how to get one when the variable is unset or empty.
 */
export function sharedEndpoints(): string[] {
  const raw = process.env[SHARED_ENDPOINTS_ENV] ?? '';
  const endpoints = raw
    .split(',')
    .map((endpoint) => endpoint.trim())
    .filter((endpoint) => endpoint !== '');
  if (endpoints.length === 0) {
    throw new Error(
      `${SHARED_ENDPOINTS_ENV} is not set: run the tests with vitest, whose globalSetup (test/global-setup.ts) ` +
        `starts a shared etcd and sets it, or set ${SHARED_ENDPOINTS_ENV}=host:port[,host:port...] yourself.`,
    );
  }
  return endpoints;
}
