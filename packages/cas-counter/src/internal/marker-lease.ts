import { CoordError, ErrorCodes, Session } from '@coordkit/core';
import type { Etcd3 } from 'etcd3';

/**
 * The lease a counter's op markers live under: granted at the first update (so a counter that is
 * only read costs nothing), kept alive by a core Session, and replaced by a new grant once lost.
 * A marker must outlive the resolution of its write's lost reply; a lease kept alive gives that,
 * and the markers still disappear on their own when the process goes away.
 */
export class MarkerLease {
  #session: Session | undefined;
  #granting: Promise<Session> | undefined;
  #closed = false;

  constructor(
    private readonly client: Etcd3,
    private readonly ttl: number,
    private readonly what: string,
  ) {}

  /** The live session to put markers under, granting a new lease when there is none. */
  async current(): Promise<Session> {
    if (this.#closed) throw new CoordError(ErrorCodes.CLOSED, `${this.what}: closed`);
    if (this.#session?.isAlive()) return this.#session;
    this.#granting ??= Session.create(this.client, { ttl: this.ttl })
      .then((session) => {
        if (this.#closed) {
          void session.close();
          throw new CoordError(ErrorCodes.CLOSED, `${this.what}: closed`);
        }
        this.#session = session;
        return session;
      })
      .finally(() => {
        this.#granting = undefined;
      });
    return this.#granting;
  }

  /** Revokes the lease (deleting the markers). Idempotent; never throws. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#granting?.catch(() => undefined);
    await this.#session?.close();
  }
}
