/**
 * etcd's int64 fields (revisions, versions, lease ids) reach JavaScript as decimal strings through
 * etcd3; this is the one place they become `bigint`, so no revision is ever rounded by a `number`.
 */
export function toBigInt(value: string | number | bigint | undefined | null): bigint {
  if (value === undefined || value === null || value === '') return 0n;
  return BigInt(value);
}

/** etcd3 accepts int64 request fields as decimal strings; the inverse of {@link toBigInt}. */
export function toWire(value: bigint): string {
  return value.toString(10);
}

/** A lease id as the lowercase hex etcd's Go concurrency package puts in lock and election keys. */
export function leaseIdToHex(leaseId: string): string {
  return BigInt(leaseId).toString(16);
}
