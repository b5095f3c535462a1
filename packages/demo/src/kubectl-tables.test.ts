import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startLeaseApiServer, type LeaseApiServer } from '@leasekit/lease-apiserver';
import { formatTable, resourceTables } from './kubectl-tables.js';

describe("laying out a server's Table the way kubectl prints it", () => {
  it('shows the priority-0 columns, upper-cased, three spaces apart', () => {
    const lines = formatTable({
      columnDefinitions: [{ name: 'Name', priority: 0 }, { name: 'Holder', priority: 0 }, { name: 'Wide', priority: 1 }, { name: 'Age', priority: 0 }],
      rows: [{ cells: ['leasekit-demo', 'replica-3', 'hidden', '9s'] }, { cells: ['other', '', 'hidden', '2m'] }],
    });
    expect(lines).toEqual(['NAME            HOLDER      AGE', 'leasekit-demo   replica-3   9s', 'other                       2m']);
  });

  it('says so when there are no rows, as kubectl does', () => {
    expect(formatTable({ columnDefinitions: [{ name: 'Name' }], rows: [] })).toEqual(['No resources found.']);
  });
});

describe('the tables without kubectl on PATH', () => {
  let server: LeaseApiServer;

  beforeAll(async () => {
    server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
    server.candidates.create('default', {
      apiVersion: 'coordination.k8s.io/v1beta1',
      kind: 'LeaseCandidate',
      metadata: { name: 'replica-1', namespace: 'default' },
      spec: { leaseName: 'demo', binaryVersion: '1.33.0', emulationVersion: '1.33.0', strategy: 'OldestEmulationVersion', renewTime: new Date().toISOString().replace('Z', '000Z') },
    });
    server.store.create('default', { metadata: { name: 'demo' }, spec: { holderIdentity: 'replica-1' } });
  });

  afterAll(async () => {
    await server.close();
  });

  it("says kubectl was not found and prints the server's Tables for LeaseCandidates and Leases", async () => {
    const lines = await resourceTables({ kubeconfigPath: 'unused', cacheDir: 'unused', serverUrl: server.url, namespace: 'default' }, ['leasecandidates', 'leases'], { PATH: '' });
    expect(lines[0]).toContain('kubectl was not found on PATH');
    expect(lines).toContain('GET /apis/coordination.k8s.io/v1beta1/namespaces/default/leasecandidates (as=Table)');
    expect(lines.some((l) => /^replica-1 +demo +1\.33\.0 +1\.33\.0 +\S+$/.test(l))).toBe(true);
    expect(lines.some((l) => /^demo +replica-1 +\S+$/.test(l))).toBe(true);
  });
});
