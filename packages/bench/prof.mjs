import { startLeaseApiServer } from '@leasekit/lease-apiserver';
import { CandidateGroup, CountingLogger, sleep } from './dist/candidates.js';
const server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
const timings = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 500 };
const rows = []; const windows = [];
for (let i = 0; i < Number(process.argv[2] ?? 10); i++) {
  const leaseName = `h-${i}`;
  server.store.create('bench', { metadata: { name: leaseName } });
  const group = new CandidateGroup({ server, namespace: 'bench', leaseName, mode: 'watch', timings, size: 3, logger: new CountingLogger() });
  group.start();
  const first = await group.nextTakeover(0, [], 10000);
  await sleep(1000);
  const elu0 = performance.eventLoopUtilization(); const t0 = performance.now(); const h0 = process.hrtime.bigint();
  first.candidate.stop.abort();
  const next = await group.nextTakeover(t0, [first.candidate], 10000);
  const elu = performance.eventLoopUtilization(elu0);
  rows.push([next.at - t0, elu.active, elu.idle]); windows.push([Number(h0 / 1000n), Number(process.hrtime.bigint() / 1000n)]);
  await sleep(250);
  await group.stopAll();
}
rows.sort((a, b) => a[0] - b[0]);
for (const r of rows) console.log(r.map((x) => x.toFixed(2)).join('\t'));
await server.close(); (await import("node:fs")).writeFileSync("/tmp/trace/windows.json", JSON.stringify(windows));
