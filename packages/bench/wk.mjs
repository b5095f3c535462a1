import { Worker, isMainThread, parentPort } from 'node:worker_threads';
if (!isMainThread) {
  const { startLeaseApiServer } = await import('@leasekit/lease-apiserver');
  const server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
  parentPort.on('message', (m) => { if (m.create) { server.store.create('bench', { metadata: { name: m.create } }); parentPort.postMessage({ created: m.create }); } if (m.close) server.close().then(() => process.exit(0)); });
  parentPort.postMessage({ kc: server.kubeConfig({ token: 'x', namespace: 'bench' }).exportConfig() });
} else {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { Elector } = await import('@leasekit/k8s-leaderelection');
  const { CountingLogger, sleep } = await import('./dist/candidates.js');
  const w = new Worker(new URL(import.meta.url));
  const next = () => new Promise((r) => w.once('message', r));
  const { kc: kcText } = await next();
  const timings = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 500 };
  const rows = [];
  for (let i = 0; i < Number(process.argv[2] ?? 10); i++) {
    const leaseName = `h-${i}`;
    w.postMessage({ create: leaseName }); await next();
    const started = []; let wake; const second = new Promise((r) => (wake = r));
    const cands = [1, 2, 3].map((k) => {
      const kc = new KubeConfig(); kc.loadFromString(kcText);
      const c = { stop: new AbortController(), k };
      c.elector = new Elector({ identity: `${leaseName}-${k}`, leaseName, leaseNamespace: 'bench', ...timings, followerStrategy: 'watch', releaseOnCancel: true }, kc, { onStartedLeading: () => { started.push([c, performance.now()]); if (started.length === 2) wake(); } }, new CountingLogger());
      return c;
    });
    for (const c of cands) c.done = c.elector.run(c.stop.signal);
    while (!started.length) await sleep(5);
    await sleep(1000);
    const [first] = started[0];
    const t0 = performance.now();
    first.stop.abort();
    await second;
    rows.push(started[1][1] - t0);
    await sleep(250);
    for (const c of cands) c.stop.abort();
    await Promise.all(cands.map((c) => c.done));
  }
  rows.sort((a, b) => a - b);
  console.log('worker server: p50', rows[Math.floor(rows.length / 2)].toFixed(2), 'all', rows.map((x) => x.toFixed(1)).join(' '));
  w.postMessage({ close: true });
}
