/**
 * Service registration and discovery on etcd: instances registered under a session lease, watched
 * as a live set with round-robin or random picking and a stream of up/down changes.
 * @packageDocumentation
 */
export { Registration } from './registration.js';
export type { RegistrationValue, ServiceInstance } from './service-instance.js';
export {
  type RegisterOptions,
  ServiceRegistry,
  type ServiceRegistryOptions,
  watchService,
} from './service-registry.js';
export {
  type PickOptions,
  type ServiceChange,
  ServiceWatch,
  type ServiceWatchOptions,
} from './service-watch.js';
