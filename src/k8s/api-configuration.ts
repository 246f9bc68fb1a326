/**
 * The client-node API configuration tokenmeter uses: the kubeconfig's server and authentication, with connections
 * reused through an AgentPool (client-node alone opens a new connection for every request; see agent-pool.ts).
 */
import { createConfiguration, ServerConfiguration, type Configuration, type KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import type { AgentPool } from './agent-pool.js';

export function pooledConfiguration(kc: KubeConfig, pool: AgentPool): Configuration {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new TokenmeterError(ErrorCodes.KUBE_CONFIG_INVALID, 'the kubeconfig has no current cluster');
  return createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: {
      default: {
        getName: () => 'kubeconfig (pooled connections)',
        async applySecurityAuthentication(ctx: RequestContext): Promise<void> {
          await kc.applySecurityAuthentication(ctx); // headers, token refresh, and a fresh agent with the TLS options
          const fresh = ctx.getAgent();
          if (fresh) ctx.setAgent(pool.reuse(fresh));
        },
      },
    },
  });
}
