/**
 * The Kubernetes manifests in docs/operations.md parse, have the right kinds and apiVersions, and
 * the Role grants exactly the verbs the elector uses: derived here by running the elector through
 * its whole life (create, renew, follow by watching, record events, release) and recording calls.
 */
import { describe, expect, it } from '@jest/globals';
import { Elector } from '@leasekit/k8s-leaderelection';
import { silentLogger } from '@leasekit/k8s-leaderelection/internal';
import { FakeClock, LeaseStore, MemoryLeaseClient } from '@leasekit/k8s-leaderelection/testing';
import { parseAllDocuments } from 'yaml';
import { codeBlocks } from './docs.js';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}
interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const manifests: Manifest[] = codeBlocks('docs/operations.md')
  .filter((b) => b.lang === 'yaml')
  .flatMap((b) =>
    parseAllDocuments(b.code).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`docs/operations.md:${b.line}: ${doc.errors[0]!.message}`);
      return doc.toJS() as Manifest;
    }),
  );
const byKind = (kind: string): Manifest => {
  const found = manifests.find((m) => m.kind === kind);
  if (!found) throw new Error(`no ${kind} in docs/operations.md`);
  return found;
};

/** Kubernetes verbs (and resources) behind each LeaseClient method. */
const RBAC_FOR_CALL: Record<string, { group: string; resource: string; verb: string }> = {
  get: { group: 'coordination.k8s.io', resource: 'leases', verb: 'get' },
  create: { group: 'coordination.k8s.io', resource: 'leases', verb: 'create' },
  update: { group: 'coordination.k8s.io', resource: 'leases', verb: 'update' },
  watch: { group: 'coordination.k8s.io', resource: 'leases', verb: 'watch' },
  recordEvent: { group: '', resource: 'events', verb: 'create' },
};

async function verbsTheElectorUses(): Promise<Set<string>> {
  const clock = new FakeClock();
  const store = new LeaseStore({ clock });
  const client = new MemoryLeaseClient(store, { clock });
  const make = (identity: string) =>
    new Elector({ identity, leaseName: 'l', leaseNamespace: 'default', clock, recordEvents: true, followerStrategy: 'watch' }, client, {}, silentLogger);
  const a = make('a');
  const b = make('b');
  const stopA = new AbortController();
  const stopB = new AbortController();
  const runA = a.run(stopA.signal);
  await clock.advance(20_000); // a creates the Lease (after its first-start wait) and renews
  const runB = b.run(stopB.signal);
  await clock.advance(5_000); // b follows by watching
  stopA.abort(); // a releases; b takes over
  await clock.advance(1_000);
  await runA;
  stopB.abort();
  await clock.advance(1_000);
  await runB;
  return new Set(client.calls.map((c) => c.verb));
}

describe('docs/operations.md manifests', () => {
  it('parse, with the right apiVersion for every kind', () => {
    const expected: Record<string, string> = {
      ServiceAccount: 'v1',
      Role: 'rbac.authorization.k8s.io/v1',
      RoleBinding: 'rbac.authorization.k8s.io/v1',
      Deployment: 'apps/v1',
      PodDisruptionBudget: 'policy/v1',
    };
    expect(manifests.map((m) => m.kind).sort()).toEqual(Object.keys(expected).sort());
    for (const m of manifests) {
      expect(m.apiVersion).toBe(expected[m.kind]);
      expect(m.metadata.namespace).toBe('my-namespace');
    }
  });

  it('grant exactly the verbs the elector uses, on exactly the resources it uses', async () => {
    const calls = await verbsTheElectorUses();
    expect([...calls].sort()).toEqual(['create', 'get', 'recordEvent', 'update', 'watch']);
    const needed = new Set([...calls].map((c) => `${RBAC_FOR_CALL[c]!.group}/${RBAC_FOR_CALL[c]!.resource}/${RBAC_FOR_CALL[c]!.verb}`));
    const rules = (byKind('Role') as unknown as { rules: PolicyRule[] }).rules;
    const granted = new Set(rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}/${v}`)))));
    expect([...granted].sort()).toEqual([...needed].sort());
  });

  it('bind the Role to the ServiceAccount the Deployment runs as', () => {
    const binding = byKind('RoleBinding') as unknown as { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] };
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: byKind('Role').metadata.name });
    const sa = byKind('ServiceAccount').metadata.name;
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa, namespace: 'my-namespace' }]);
    const deployment = byKind('Deployment') as unknown as { spec: { template: { spec: { serviceAccountName: string } } } };
    expect(deployment.spec.template.spec.serviceAccountName).toBe(sa);
  });

  it('give the pod its identity and namespace from the Downward API and probe /healthz for liveness', () => {
    const deployment = byKind('Deployment') as unknown as {
      spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: { containers: { env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[]; livenessProbe: { httpGet: { path: string } }; readinessProbe?: unknown }[] } } };
    };
    const container = deployment.spec.template.spec.containers[0]!;
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    expect(env).toMatchObject({ POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace' });
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe).toBeUndefined(); // followers are ready too
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    const pdb = byKind('PodDisruptionBudget') as unknown as { spec: { selector: { matchLabels: Record<string, string> } } };
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });
});
