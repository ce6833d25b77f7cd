import { randomBytes } from 'node:crypto';

/**
 * Where a topic keeps its state in etcd (documented in the README for operators):
 * - `<name>/msg/<id>`: one key per message, JSON value, created once and never rewritten;
 * - `<name>/trimmed`: decimal revision; every message at or below it may have been trimmed;
 * - `<name>/groups/<group>`: decimal revision, the group's last acknowledged position.
 */
export class TopicLayout {
  readonly messagePrefix: string;
  readonly trimmedKey: string;

  constructor(readonly name: string) {
    this.messagePrefix = `${name}/msg/`;
    this.trimmedKey = `${name}/trimmed`;
  }

  groupKey(group: string): string {
    return `${this.name}/groups/${group}`;
  }

  /**
   * A fresh message key per publish call: `<12 hex ms>-<10 hex random>-<6 digit index>`. The time
   * part makes keys roughly sortable and carries the age used by `maxAgeMs`; the index keeps a batch's
   * messages in publish order under etcd's key order, which is how they are ordered within one revision.
   */
  messageKeys(count: number, now = Date.now()): string[] {
    const batch = `${now.toString(16).padStart(12, '0')}-${randomBytes(5).toString('hex')}`;
    return Array.from(
      { length: count },
      (_, i) => `${this.messagePrefix}${batch}-${String(i).padStart(6, '0')}`,
    );
  }

  /** The publisher's wall-clock time in a message key, or `undefined` for a key not made by {@link messageKeys}. */
  publishedAt(key: string): number | undefined {
    const id = key.slice(this.messagePrefix.length);
    if (!/^[0-9a-f]{12}-/.test(id)) return undefined;
    return Number.parseInt(id.slice(0, 12), 16);
  }
}
