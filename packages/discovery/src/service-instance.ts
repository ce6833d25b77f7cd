import { assertArgument, CoordError, ErrorCodes } from '@coordkit/core';

/**
 * The JSON value stored at `<prefix>/<service>/<id>`, the format other languages read and write:
 * `{ "id": string, "address": string, "metadata": object, "draining": boolean, "registeredAt": string }`
 * (`registeredAt` is an ISO 8601 UTC time from the registrant's clock, for humans only).
 * Readers require `address`; a missing `id` is taken from the key, a missing `metadata` is `{}`,
 * a missing `draining` is false.
 */
export interface RegistrationValue {
  readonly id: string;
  readonly address: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly draining: boolean;
  readonly registeredAt: string;
}

/** One registered instance of a service, as a watcher sees it. */
export interface ServiceInstance extends RegistrationValue {
  readonly service: string;
  /** The etcd key: `<prefix>/<service>/<id>`. */
  readonly key: string;
  /** The revision of the instance's last registration write. */
  readonly revision: bigint;
  /** The lease the key is attached to (decimal), when it has one. */
  readonly leaseId: string | undefined;
}

/** Checks `metadata` is a plain JSON object and returns it. */
export function validMetadata(metadata: unknown): Readonly<Record<string, unknown>> {
  if (metadata === undefined) return {};
  assertArgument(
    typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata),
    'metadata',
    'a plain JSON object',
  );
  try {
    JSON.stringify(metadata);
  } catch (err) {
    throw new CoordError(ErrorCodes.INVALID_ARGUMENT, 'invalid metadata: not JSON-serializable', {
      cause: err,
    });
  }
  return metadata as Record<string, unknown>;
}

/** Encodes a registration value. */
export function encodeRegistration(value: RegistrationValue): string {
  return JSON.stringify(value);
}

/** Parses a stored registration; `DECODE_FAILED` (naming the key) for anything that is not one. */
export function parseRegistration(
  service: string,
  key: string,
  raw: Buffer,
  revision: bigint,
  leaseId: string | undefined,
): ServiceInstance {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString());
  } catch (err) {
    throw new CoordError(ErrorCodes.DECODE_FAILED, `service "${service}": ${key} is not JSON`, {
      cause: err,
      key,
    });
  }
  const value = parsed as Partial<Record<keyof RegistrationValue, unknown>> | null;
  const metadata = value?.metadata ?? {};
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    typeof value.address !== 'string' ||
    value.address.length === 0 ||
    (value.id !== undefined && typeof value.id !== 'string') ||
    typeof metadata !== 'object' ||
    metadata === null ||
    Array.isArray(metadata)
  ) {
    throw new CoordError(
      ErrorCodes.DECODE_FAILED,
      `service "${service}": ${key} is not a registration (a JSON object with a non-empty "address")`,
      { key },
    );
  }
  return {
    service,
    key,
    id: (value.id as string | undefined) ?? key.slice(key.lastIndexOf('/') + 1),
    address: value.address,
    metadata: metadata as Record<string, unknown>,
    draining: value.draining === true,
    registeredAt: typeof value.registeredAt === 'string' ? value.registeredAt : '',
    revision,
    leaseId,
  };
}
