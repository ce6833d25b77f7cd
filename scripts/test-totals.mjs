// Prints vitest's JSON report as the plain totals line CI reads: "N passed, N failed".
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.ci/out/results.json';
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed = report.numPassedTests ?? 0;
  failed = (report.numFailedTests ?? 0) + (report.numFailedTestSuites ?? 0);
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
} catch (err) {
  console.error(`test-totals: no readable report at ${file}: ${err.message}`);
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
