// Benchmark runner: `pnpm bench <scenario> [more...]` or `pnpm bench all`.
// Starts its own single-node etcd on tmpfs (own free ports), runs each scenario's coordkit variant
// and its baselines (raw etcd3 floor, etcd3 built-ins) in the same run, and prints markdown tables
// with ops/s, latency percentiles and RPCs per operation read from etcd's /metrics.
import { startEtcd } from '@coordkit/testing';
import { makeContext, type Scenario, toMarkdown } from './lib/scenario.ts';
import { scenarios } from './scenarios/index.ts';

const wanted = process.argv.slice(2);
if (wanted.length === 0) {
  console.error(`usage: pnpm bench <scenario...|all>\nscenarios: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
const chosen: Scenario[] = wanted.includes('all')
  ? Object.values(scenarios)
  : wanted.map((name) => {
      const s = scenarios[name];
      if (!s) {
        console.error(`unknown scenario "${name}"; known: ${Object.keys(scenarios).join(', ')}`);
        process.exit(2);
      }
      return s;
    });

await using etcd = await startEtcd({ nodes: 1 });
const ctx = makeContext(etcd.endpoints, etcd.metricsUrl(0));
console.log(
  `etcd ${etcd.endpoints.join(',')} (tmpfs), node ${process.version}, ${new Date().toISOString()}\n`,
);
for (const scenario of chosen) {
  const results = await scenario.run(ctx);
  console.log(`### ${scenario.name}\n\n${scenario.description}\n\n${toMarkdown(results)}\n`);
}
