import type { Scenario } from '../lib/scenario.ts';
import { configWatchScenario } from './config.ts';
import { session, watchFanout, watchLatency } from './core.ts';
import { counterContended, counterUncontended } from './counter.ts';
import { electionFailover } from './election.ts';
import { lockContended, lockUncontended } from './lock.ts';
import { pubsubFanout, pubsubLatency } from './pubsub.ts';
import { queueScenario } from './queue.ts';

/** Every benchmark scenario by the name `pnpm bench <name>` takes. */
export const scenarios: Record<string, Scenario> = {
  session,
  'watch-latency': watchLatency,
  'watch-fanout': watchFanout,
  'lock-uncontended': lockUncontended,
  'lock-contended': lockContended,
  'counter-uncontended': counterUncontended,
  'counter-contended': counterContended,
  'election-failover': electionFailover,
  queue: queueScenario,
  'pubsub-latency': pubsubLatency,
  'pubsub-fanout': pubsubFanout,
  'config-watch': configWatchScenario,
};
