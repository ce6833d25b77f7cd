import type { CommandContext } from '../internal/context.js';
import { ExitCodes } from '../internal/exit-codes.js';
import { scanStatus } from '../internal/status-scan.js';

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `coord status [--prefix p]`: holders, leaders, queue depths and counters at a glance. */
export async function statusCommand(ctx: CommandContext, prefix: string | undefined): Promise<number> {
  const report = await scanStatus(ctx.client, prefix);
  ctx.print(report, () => {
    const parts = [`etcd revision ${report.revision}`];
    const locks = report.held.filter((h) => h.kind === 'lock');
    const elections = report.held.filter((h) => h.kind === 'election');
    parts.push(
      locks.length
        ? `\nLOCKS\n${table(
            ['name', 'holder lease', 'fencing token', 'waiting'],
            locks.map((l) => [l.name, l.holder.lease, String(l.holder.fencingToken), String(l.waiting)]),
          )}`
        : '\nLOCKS: none held',
    );
    parts.push(
      elections.length
        ? `\nELECTIONS\n${table(
            ['name', 'leader', 'fencing token', 'candidates waiting'],
            elections.map((e) => [e.name, e.holder.value, String(e.holder.fencingToken), String(e.waiting)]),
          )}`
        : '\nELECTIONS: none',
    );
    parts.push(
      report.queues.length
        ? `\nQUEUES\n${table(
            ['name', 'ready', 'delayed', 'inflight', 'dead'],
            report.queues.map((q) => [
              q.name,
              String(q.ready),
              String(q.delayed),
              String(q.inflight),
              String(q.dead),
            ]),
          )}`
        : '\nQUEUES: none',
    );
    parts.push(
      report.counters.length
        ? `\nCOUNTERS\n${table(
            ['name', 'value'],
            report.counters.map((c) => [c.name, String(c.value)]),
          )}`
        : '\nCOUNTERS: none',
    );
    return parts.join('\n');
  });
  return ExitCodes.OK;
}
