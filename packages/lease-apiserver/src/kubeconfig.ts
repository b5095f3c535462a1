/**
 * Client configuration for the server: a client-node `KubeConfig` for in-process callers and a
 * kubeconfig file for kubectl and other processes. Plain http, so the cluster entry carries
 * `insecure-skip-tls-verify` (client-node refuses an http server without it).
 */
import { KubeConfig } from '@kubernetes/client-node';

/** Options for {@link kubeConfigFor} and {@link kubeconfigYaml}. */
export interface KubeConfigOptions {
  /** The context's namespace. @default 'default' */
  readonly namespace?: string;
  /**
   * A bearer token to send. The server accepts any token (it does no authentication); a distinct
   * token per client lets fault rules single one out (`client: { token }`).
   */
  readonly token?: string;
  /** Name used for the cluster, user and context. @default 'lease-apiserver' */
  readonly name?: string;
}

/** A client-node KubeConfig pointing at `url`. */
export function kubeConfigFor(url: string, options: KubeConfigOptions = {}): KubeConfig {
  const name = options.name ?? 'lease-apiserver';
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name, server: url, skipTLSVerify: true }],
    users: [{ name, ...(options.token !== undefined ? { token: options.token } : {}) }],
    contexts: [{ name, cluster: name, user: name, namespace: options.namespace ?? 'default' }],
    currentContext: name,
  });
  return kubeConfig;
}

/** The same configuration as a kubeconfig file (YAML; strings are JSON-quoted, which YAML reads). */
export function kubeconfigYaml(url: string, options: KubeConfigOptions = {}): string {
  const q = (value: string): string => JSON.stringify(value);
  const name = q(options.name ?? 'lease-apiserver');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${q(url)}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    `- name: ${name}`,
    options.token !== undefined ? `  user:\n    token: ${q(options.token)}` : '  user: {}',
    'contexts:',
    `- name: ${name}`,
    '  context:',
    `    cluster: ${name}`,
    `    user: ${name}`,
    `    namespace: ${q(options.namespace ?? 'default')}`,
    `current-context: ${name}`,
    'preferences: {}',
    '',
  ].join('\n');
}
