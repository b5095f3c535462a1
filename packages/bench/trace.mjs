import dc from 'node:diagnostics_channel';
import { startLeaseApiServer } from '@leasekit/lease-apiserver';
import { CandidateGroup, CountingLogger, sleep } from './dist/candidates.js';
const ev = [];
let t0 = 0, armed = false;
const mark = (what) => { if (armed) ev.push([performance.now() - t0, what]); };
dc.subscribe('http.client.request.start', ({ request }) => mark(`client req start ${request.method} ${request.path.slice(-30)}`));
dc.subscribe('http.client.response.finish', ({ request, response }) => mark(`client resp finish ${request.method} ${response.statusCode}`));
dc.subscribe('http.server.request.start', ({ request }) => mark(`server req start ${request.method} ${request.url.slice(-30)}`));
dc.subscribe('http.server.response.finish', ({ request, response }) => mark(`server resp finish ${request.method} ${response.statusCode}`));
const { Elector } = await import('../k8s-leaderelection/dist/elector.js');
const { KubeHttp } = await import('../k8s-leaderelection/dist/kube-http.js');
const wrap = (proto, name) => { const f = proto[name]; proto[name] = function (...a) { mark(`> ${name}`); const r = f.apply(this, a); if (r && r.then) r.then(() => mark(`< ${name}`), () => mark(`<! ${name}`)); return r; }; };
wrap(Elector.prototype, 'endTerm'); wrap(Elector.prototype, 'release'); wrap(KubeHttp.prototype, 'request'); wrap(Elector.prototype, 'lead');
const lockMod = await import('../k8s-leaderelection/dist/lease-lock.js');
for (const k of Object.keys(lockMod)) if (typeof lockMod[k] === 'function' && lockMod[k].prototype?.pooledEndpoint) { wrap(lockMod[k].prototype, 'pooledEndpoint'); }
const server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
const timings = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 500 };
const all = [];
for (let i = 0; i < Number(process.argv[2] ?? 10); i++) {
  const leaseName = `h-${i}`;
  server.store.create('bench', { metadata: { name: leaseName } });
  const log = new CountingLogger();
  const group = new CandidateGroup({ server, namespace: 'bench', leaseName, mode: 'watch', timings, size: 3, logger: log });
  const w = server.store.watch({ namespace: 'bench', name: leaseName }, (e) => mark(`store commit holder=${e.object.spec?.holderIdentity ?? ''} rv=${e.object.metadata.resourceVersion}`));
  group.start();
  const first = await group.nextTakeover(0, [], 10000);
  await sleep(1000);
  ev.length = 0; const elu0 = performance.eventLoopUtilization(); t0 = performance.now(); armed = true;
  first.candidate.stop.abort();
  const next = await group.nextTakeover(t0, [first.candidate], 10000);
  const elu = performance.eventLoopUtilization(elu0); mark(`ELU ${elu.utilization.toFixed(2)} active ${elu.active.toFixed(2)} idle ${elu.idle.toFixed(2)}`);
  mark(`TAKEOVER ${next.candidate.identity} at ${(next.at - t0).toFixed(2)}`);
  await sleep(250);
  armed = false;
  all.push([...ev]);
  w.stop();
  await group.stopAll();
}
for (const e of all.slice(-3)) { console.log('---'); for (const [t, w] of e) console.log(t.toFixed(2).padStart(8), w); }
await server.close();
