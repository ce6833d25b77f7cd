import type { Scenario } from '../lib/scenario.ts';
import { session, watchFanout, watchLatency } from './core.ts';
import { counterContended, counterUncontended } from './counter.ts';
import { lockContended, lockUncontended } from './lock.ts';

/** Every benchmark scenario by the name `pnpm bench <name>` takes. */
export const scenarios: Record<string, Scenario> = {
  session,
  'watch-latency': watchLatency,
  'watch-fanout': watchFanout,
  'lock-uncontended': lockUncontended,
  'lock-contended': lockContended,
  'counter-uncontended': counterUncontended,
  'counter-contended': counterContended,
};
