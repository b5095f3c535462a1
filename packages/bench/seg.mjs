import dc from 'node:diagnostics_channel';
import { startLeaseApiServer } from '@leasekit/lease-apiserver';
import { CandidateGroup, CountingLogger, sleep } from './dist/candidates.js';
let t0 = 0, armed = false, m = {};
const at = (k) => { if (armed && m[k] === undefined) m[k] = performance.now() - t0; };
dc.subscribe('http.client.request.start', () => { if (m.relReq === undefined) at('relReq'); else at('folReq'); });
dc.subscribe('http.client.response.finish', ({ response }) => { if (m.relCommit !== undefined && m.relResp === undefined) at('relResp'); else if (response.statusCode === 200 && m.takeCommit !== undefined) at('winResp'); });
dc.subscribe('http.server.request.start', () => { if (m.relCommit !== undefined) at('folSrv'); });
const server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
const timings = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 500 };
const rows = [];
for (let i = 0; i < Number(process.argv[2] ?? 10); i++) {
  const leaseName = `h-${i}`;
  server.store.create('bench', { metadata: { name: leaseName } });
  const group = new CandidateGroup({ server, namespace: 'bench', leaseName, mode: 'watch', timings, size: 3, logger: new CountingLogger() });
  const w = server.store.watch({ namespace: 'bench', name: leaseName }, (e) => at(e.object.spec?.holderIdentity ? 'takeCommit' : 'relCommit'));
  group.start();
  const first = await group.nextTakeover(0, [], 10000);
  await sleep(600);
  m = {}; t0 = performance.now(); armed = true;
  first.candidate.stop.abort();
  const next = await group.nextTakeover(t0, [first.candidate], 10000);
  m.total = next.at - t0; armed = false;
  rows.push(m);
  w.stop();
  await sleep(100);
  await group.stopAll();
}
const keys = ['relReq', 'relCommit', 'relResp', 'folReq', 'folSrv', 'takeCommit', 'winResp', 'total'];
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.floor(p * xs.length)];
let prev = null;
for (const k of keys) {
  const d = rows.map((r) => (r[k] ?? NaN) - (prev ? r[prev] ?? NaN : 0)).filter((x) => !Number.isNaN(x));
  console.log(`${(prev ?? 'abort').padEnd(10)} -> ${k.padEnd(10)} p25 ${pct(d, 0.25).toFixed(2)} p50 ${pct(d, 0.5).toFixed(2)} p75 ${pct(d, 0.75).toFixed(2)} p90 ${pct(d, 0.9).toFixed(2)} n ${d.length}`);
  if (k !== 'total') prev = k;
}
const t = rows.map((r) => r.total); console.log('total p50', pct(t, 0.5).toFixed(2));
await server.close();
