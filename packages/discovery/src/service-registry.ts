import { randomUUID } from 'node:crypto';
import { assertArgument, type Session, validateName } from '@coordkit/core';
import { validSegment } from './internal/names.js';
import { Registration } from './registration.js';
import { validMetadata } from './service-instance.js';
import { ServiceWatch, type ServiceWatchOptions } from './service-watch.js';

/** Options of {@link ServiceRegistry}. */
export interface ServiceRegistryOptions {
  /** Key prefix of every service. Default `'coordkit/services'`. */
  readonly prefix?: string;
}

/** What to register. */
export interface RegisterOptions {
  /** Service name (one key segment: no `/`). */
  readonly service: string;
  /** Instance id, unique within the service. Default: a random UUID. */
  readonly id?: string;
  /** Where clients reach the instance, e.g. `10.0.0.7:8080` or a URL. */
  readonly address: string;
  /** Free-form JSON object (version, zone, weight...). Default `{}`. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** After the lease is lost (expiry, revoke), register again through a fresh session, with backoff. Default false. */
  readonly keepRegistered?: boolean;
}

/**
 * Service registration and discovery: an instance is the key `<prefix>/<service>/<id>` attached to
 * the session's lease, whose JSON value other languages can read and write (see `RegistrationValue`).
 * Registrations vanish when their owner's lease ends; watchers see that as a `down` change.
 */
export class ServiceRegistry {
  readonly session: Session;
  readonly prefix: string;

  constructor(session: Session, options: ServiceRegistryOptions = {}) {
    this.session = session;
    this.prefix = validateName(options.prefix ?? 'coordkit/services', 'registry prefix');
  }

  /**
   * Registers an instance (one write) and resolves with its handle. Registering an id that is already
   * registered replaces it (last writer wins). Rejects `SESSION_EXPIRED` if the session is gone.
   */
  async register(options: RegisterOptions): Promise<Registration> {
    const service = validSegment(options.service, 'service');
    const id = options.id === undefined ? randomUUID() : validSegment(options.id, 'id');
    assertArgument(
      typeof options.address === 'string' && options.address.length > 0,
      'address',
      'a non-empty string',
    );
    const metadata = validMetadata(options.metadata);
    const registration = new Registration(this.session, {
      service,
      key: `${this.prefix}/${service}/${id}`,
      keepRegistered: options.keepRegistered ?? false,
      value: {
        id,
        address: options.address,
        metadata,
        draining: false,
        registeredAt: new Date().toISOString(),
      },
    });
    await registration.start();
    return registration;
  }

  /** Watches a service's instances (see {@link ServiceWatch}); await `ready` before relying on `instances()`. */
  watch(service: string, options: ServiceWatchOptions = {}): ServiceWatch {
    return watchService(this.session.client, service, { ...options, prefix: this.prefix });
  }
}

/**
 * Watches a service without a session (a pure client needs no lease): the same as
 * {@link ServiceRegistry.watch}, with the registry `prefix` given here (default `'coordkit/services'`).
 */
export function watchService(
  client: Session['client'],
  service: string,
  options: ServiceWatchOptions & ServiceRegistryOptions = {},
): ServiceWatch {
  const prefix = validateName(options.prefix ?? 'coordkit/services', 'registry prefix');
  return new ServiceWatch(client, prefix, validSegment(service, 'service'), options);
}
