import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityFromEnv, namespaceFromEnv, SERVICE_ACCOUNT_NAMESPACE_FILE } from './env.js';
import { configErrorOf } from './__tests__/thrown.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'leasekit-env-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function namespaceFile(content: string): string {
  const path = join(dir, `namespace-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, content);
  return path;
}

function missingFile(): string {
  return join(dir, 'does-not-exist', 'namespace');
}

describe('identityFromEnv', () => {
  it('uses POD_NAME', () => {
    expect(identityFromEnv({ POD_NAME: 'controller-7d9f-abcde' })).toBe('controller-7d9f-abcde');
  });

  it('trims POD_NAME', () => {
    expect(identityFromEnv({ POD_NAME: '  controller-0\n' })).toBe('controller-0');
  });

  it.each([
    ['unset', {}],
    ['empty', { POD_NAME: '' }],
    ['only whitespace', { POD_NAME: '   ' }],
  ])('falls back to the hostname with a random suffix when POD_NAME is %s', (_label, env) => {
    const identity = identityFromEnv(env);
    expect(identity.startsWith(`${hostname()}_`)).toBe(true);
    expect(identity.slice(hostname().length + 1)).toMatch(/^[0-9a-f]{8}$/);
  });

  it('gives two processes on one host different identities', () => {
    const identities = new Set(Array.from({ length: 50 }, () => identityFromEnv({})));
    expect(identities.size).toBe(50);
  });
});

describe('namespaceFromEnv', () => {
  it('uses POD_NAMESPACE, trimmed, before the namespace file', () => {
    expect(namespaceFromEnv({ POD_NAMESPACE: ' team-a\n' }, namespaceFile('team-b'))).toBe('team-a');
  });

  it('reads the service account namespace file when POD_NAMESPACE is unset', () => {
    expect(namespaceFromEnv({}, namespaceFile('team-b\n'))).toBe('team-b');
  });

  it('reads the namespace file when POD_NAMESPACE is only whitespace', () => {
    expect(namespaceFromEnv({ POD_NAMESPACE: '  ' }, namespaceFile('team-b'))).toBe('team-b');
  });

  it('fails with NAMESPACE_UNKNOWN, naming POD_NAMESPACE and the file, when neither is there', () => {
    const file = missingFile();
    const err = configErrorOf(() => namespaceFromEnv({}, file));
    expect(err.code).toBe('NAMESPACE_UNKNOWN');
    expect(err.field).toBe('leaseNamespace');
    expect(err.message).toContain('POD_NAMESPACE');
    expect(err.message).toContain(file);
  });

  it('fails with NAMESPACE_UNKNOWN when the namespace file is empty', () => {
    expect(configErrorOf(() => namespaceFromEnv({}, namespaceFile(' \n'))).code).toBe('NAMESPACE_UNKNOWN');
  });

  it('fails with NAMESPACE_UNKNOWN when the namespace path is a directory', () => {
    expect(configErrorOf(() => namespaceFromEnv({}, dir)).code).toBe('NAMESPACE_UNKNOWN');
  });

  it('reads the in-cluster service account namespace file when no path is given', () => {
    expect(SERVICE_ACCOUNT_NAMESPACE_FILE).toBe('/var/run/secrets/kubernetes.io/serviceaccount/namespace');
    if (existsSync(SERVICE_ACCOUNT_NAMESPACE_FILE)) {
      // Running inside a pod: the file is the answer.
      expect(namespaceFromEnv({})).toBe(readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim());
    } else {
      expect(configErrorOf(() => namespaceFromEnv({})).message).toContain(SERVICE_ACCOUNT_NAMESPACE_FILE);
    }
  });
});
