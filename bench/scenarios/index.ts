import type { Scenario } from '../lib/scenario.ts';
import { session, watchFanout, watchLatency } from './core.ts';

/** Every benchmark scenario by the name `pnpm bench <name>` takes. */
export const scenarios: Record<string, Scenario> = {
  session,
  'watch-latency': watchLatency,
  'watch-fanout': watchFanout,
};
