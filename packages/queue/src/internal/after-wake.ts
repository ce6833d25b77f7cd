import { sleep } from '@coordkit/core';
import type { Claimer } from './claimer.js';
import type { ReadySignal } from './ready-signal.js';

/** Upper bound of the random wait of a woken consumer before it claims a job of another colour. */
const HERD_DELAY_MS = 20;

/** Claims next from the ready watch's view when it has one (no read), else from a fresh read. */
function takeView(ready: ReadySignal, claimer: Claimer): boolean {
  const view = ready.view();
  if (view) claimer.offer(view.revision, view.kvs);
  else claimer.invalidate();
  return view !== undefined;
}

/**
 * Prepares the claim of a dequeue woken by a put. Every waiting consumer was woken by the same put:
 * one that competes with others (it has lost a race before) and sees no job of its colour waits a
 * random moment first, so that the job's colour owner, or whoever waited least, takes it and the
 * others see it go by watch instead of each sending a claim for it. A lone consumer never waits.
 * Rejects with `signal`'s reason, after passing the wake-up on to another waiting call.
 */
export async function afterWake(ready: ReadySignal, claimer: Claimer, signal: AbortSignal): Promise<void> {
  if (!takeView(ready, claimer) || !claimer.wouldTakeOthers()) return;
  try {
    await sleep(Math.random() * HERD_DELAY_MS, signal);
  } catch (err) {
    ready.passOn();
    throw err;
  }
  takeView(ready, claimer);
}
