import type { ClientOptions } from '@coordkit/core';
import { testClient } from '../../../test/support/etcd.js';

export { aborted } from '../../../test/support/etcd.js';

/** A client on the run's shared etcd, closed by `using`. */
export const sharedClient = (options: ClientOptions = {}) => testClient(undefined, options);
