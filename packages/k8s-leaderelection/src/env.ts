/**
 * Identity and namespace from the pod's environment (Downward API), with sane fallbacks.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError } from './errors.js';

/** Where Kubernetes mounts the pod's namespace for its service account. */
export const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * `POD_NAME` when set (inject it with the Downward API), else the hostname plus a random suffix,
 * so two processes on one host never share an identity.
 */
export function identityFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const podName = env.POD_NAME?.trim();
  if (podName) return podName;
  return `${hostname()}_${randomBytes(4).toString('hex')}`;
}

/**
 * `POD_NAMESPACE` when set, else the in-cluster service account namespace file, else a
 * {@link ConfigError} (code `NAMESPACE_UNKNOWN`) saying how to set it.
 */
export function namespaceFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  namespaceFile: string = SERVICE_ACCOUNT_NAMESPACE_FILE,
): string {
  const fromEnv = env.POD_NAMESPACE?.trim();
  if (fromEnv) return fromEnv;
  let fromFile = '';
  try {
    fromFile = readFileSync(namespaceFile, 'utf8').trim();
  } catch {
    // Not in a cluster: fall through to the error below.
  }
  if (fromFile) return fromFile;
  throw new ConfigError(
    'NAMESPACE_UNKNOWN',
    'leaseNamespace',
    `lease namespace unknown: set POD_NAMESPACE (Downward API: fieldRef metadata.namespace) or run in a pod with a service account (${namespaceFile} not readable)`,
  );
}
