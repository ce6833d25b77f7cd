import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@coordkit/core';
import { type EtcdCluster, startEtcd } from '@coordkit/testing';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { excerpt, needlesOf, toJsonLine } from './lib/history.js';
import { runWorkload, type WorkloadReport } from './lib/run-workload.js';
import { workloads } from './lib/workloads.js';

// Quick mode (default) gives each workload a few seconds of faults; soak mode (CHAOS_DURATION_S=1200)
// shares the given duration between the workloads. CHAOS_SEED replays a run's fault choices.
const soakSeconds = Number(process.env.CHAOS_DURATION_S ?? '0');
const perWorkloadMs = soakSeconds > 0 ? Math.max(5_000, (soakSeconds * 1000) / workloads.length) : 10_000;
const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe(`chaos (seed ${seed}, ${perWorkloadMs} ms of faults per workload)`, () => {
  let cluster: EtcdCluster;
  let admin: Etcd3;
  const dir = mkdtempSync(join(tmpdir(), 'coordkit-chaos-'));
  const reports: WorkloadReport[] = [];

  beforeAll(async () => {
    cluster = await startEtcd({ nodes: 3 });
    admin = createClient({ endpoints: cluster.endpoints, requestTimeout: 5000 });
  });

  afterAll(async () => {
    admin?.close();
    await cluster?.stop();
    const summary = reports.map(
      (r) =>
        `${r.name}: ${r.elapsedMs} ms, ops ${JSON.stringify(r.operations)}, faults ${JSON.stringify(r.faults)}, anomalies ${r.check.anomalies.length}`,
    );
    console.log(`[chaos] seed ${seed}\n${summary.join('\n')}`);
  });

  workloads.forEach((workload, index) => {
    it(
      workload.name,
      async () => {
        const report = await runWorkload(workload, {
          cluster,
          admin,
          seed: seed + index,
          durationMs: perWorkloadMs,
          dir,
        });
        reports.push(report);
        if (!report.check.ok) {
          const file = join(dir, `${workload.name}-history.jsonl`);
          writeFileSync(file, `${report.history.map(toJsonLine).join('\n')}\n`);
          const details = report.check.anomalies
            .slice(0, 3)
            .map((anomaly) => `- ${anomaly}\n${excerpt(report.history, needlesOf(anomaly), 2, 20)}`)
            .join('\n');
          expect.fail(
            `${workload.name}: ${report.check.anomalies.length} anomalies (replay with CHAOS_SEED=${seed}; full history in ${file})\n${details}`,
          );
        }
        // A run where nothing happened proves nothing: the workload must have made progress under faults.
        const total = Object.values(report.operations).reduce((a, b) => a + b, 0);
        expect(total, `${workload.name} recorded too few operations (seed ${seed})`).toBeGreaterThan(20);
        expect(Object.keys(report.faults).length, `no fault injected (seed ${seed})`).toBeGreaterThan(0);
      },
      perWorkloadMs + 120_000,
    );
  });
});
