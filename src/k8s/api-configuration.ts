/**
 * The client-node API configuration tokenmeter uses: the kubeconfig's server and authentication, with connections
 * reused through an AgentPool (client-node alone opens a new connection for every request; see agent-pool.ts).
 */
import { createConfiguration, ServerConfiguration, type Configuration, type KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import type { AgentPool } from './agent-pool.js';

/**
 * `userAgent` replaces node-fetch's default ("node-fetch/1.0"), so the API server's audit log and metrics name the
 * caller (client-go sends "binary/version (os/arch) kubernetes/commit"; tokenmeter sends "tokenmeter-operator/0.1.0").
 */
export function pooledConfiguration(kc: KubeConfig, pool: AgentPool, userAgent?: string): Configuration {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new TokenmeterError(ErrorCodes.KUBE_CONFIG_INVALID, 'the kubeconfig has no current cluster');
  return createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: {
      default: {
        getName: () => 'kubeconfig (pooled connections)',
        async applySecurityAuthentication(ctx: RequestContext): Promise<void> {
          await kc.applySecurityAuthentication(ctx); // headers, token refresh, and a fresh agent with the TLS options
          if (userAgent) ctx.setHeaderParam('User-Agent', userAgent);
          const fresh = ctx.getAgent();
          if (fresh) ctx.setAgent(pool.reuse(fresh));
        },
      },
    },
  });
}
