/**
 * A KubeConfig for a test server on 127.0.0.1: one cluster at `url`, one user (with a bearer
 * token when given), as the over-HTTP tests of the client-node lock build it.
 */
import { KubeConfig } from '@kubernetes/client-node';

export function kubeConfigFor(url: string, user: { token?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u', ...user }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}
