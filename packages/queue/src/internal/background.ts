import type { Session } from '@coordkit/core';
import { DelayedPromoter } from './delayed-promoter.js';
import { InflightMonitor, type MonitorPolicy } from './inflight-monitor.js';
import type { QueueLayout } from './layout.js';
import { ReadySignal } from './ready-signal.js';

/**
 * The watches a consuming queue handle runs: the ready signal that wakes waiting dequeues, the
 * promoter of due delayed jobs, and the monitor that takes back lost deliveries. All three are
 * watches on one shared gRPC stream, so an idle consumer sends no request at all.
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

  /** Starts everything; resolves once the ready watch is confirmed and both mirrors are loaded. */
  static async start(
    session: Session,
    layout: QueueLayout,
    policy: MonitorPolicy,
    onFailure: (err: unknown) => void,
  ): Promise<Background> {
    const ready = new ReadySignal(session, layout.ready, onFailure);
    const background = new Background(
      ready,
      new DelayedPromoter(session, layout, onFailure),
      new InflightMonitor(session, layout, policy, onFailure),
    );
    try {
      await Promise.all([ready.ready(), background.#promoter.start(), background.#monitor.start()]);
    } catch (err) {
      background.close();
      throw err;
    }
    return background;
  }

  close(): void {
    this.ready.close();
    this.ready.wakeAll();
    this.#promoter.close();
    this.#monitor.close();
  }
}
