import { assertArgument } from '@coordkit/core';

/**
 * Validates a service name or instance id, which become one key segment each: non-empty, bounded,
 * no control characters, and no `/` (watching service "a" would otherwise also see service "a/b").
 */
export function validSegment(value: unknown, argument: string): string {
  assertArgument(
    typeof value === 'string' && value.length > 0 && value.length <= 256,
    argument,
    'a non-empty string of at most 256 characters',
  );
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    assertArgument(code >= 0x20 && code !== 0x7f, argument, 'no control characters');
  }
  assertArgument(!value.includes('/'), argument, 'must not contain "/"');
  return value;
}
