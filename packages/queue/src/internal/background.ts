import type { Session } from '@coordkit/core';
import type { ClaimWatch } from './claim-watch.js';
import { DelayedPromoter } from './delayed-promoter.js';
import { InflightMonitor, type MonitorPolicy } from './inflight-monitor.js';
import type { QueueLayout } from './layout.js';
import { ReadySignal } from './ready-signal.js';

/**
 * The watches a consuming queue handle runs: the ready signal that wakes waiting dequeues, the
 * promoter of due delayed jobs, and the monitor that takes back lost deliveries and tells this
 * handle's deliveries when their claim goes. All are watches on the client's one gRPC stream, so
 * an idle consumer sends no request at all.
 */
export class Background {
  readonly ready: ReadySignal;
  readonly #promoter: DelayedPromoter;
  readonly #monitor: InflightMonitor;

  private constructor(ready: ReadySignal, promoter: DelayedPromoter, monitor: InflightMonitor) {
    this.ready = ready;
    this.#promoter = promoter;
    this.#monitor = monitor;
  }

  /** Starts everything; resolves once both mirrors are loaded (the ready watch opens when a dequeue waits). */
  static async start(
    session: Session,
    layout: QueueLayout,
    policy: MonitorPolicy,
    onFailure: (err: unknown) => void,
  ): Promise<Background> {
    const background = new Background(
      new ReadySignal(session, layout.ready, onFailure),
      new DelayedPromoter(session, layout, onFailure),
      new InflightMonitor(session, layout, policy, onFailure),
    );
    try {
      await Promise.all([background.#promoter.start(), background.#monitor.start()]);
    } catch (err) {
      background.close();
      throw err;
    }
    return background;
  }

  /** Watches a claim of this handle through the inflight mirror (see {@link InflightMonitor.claimWatch}). */
  get claimWatch(): ClaimWatch {
    return this.#monitor.claimWatch;
  }

  close(): void {
    this.ready.close();
    this.#promoter.close();
    this.#monitor.close();
  }
}
