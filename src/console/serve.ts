/**
 * One listener for the admin API and the console: the API's routes (src/admin) with the live-update feed, the
 * console's pages beside them and its access rule in front of the data routes. `tokenmeter extproc` uses it in local
 * mode, `tokenmeter console` always.
 */
import { adminRoutes, type AdminDeps } from '../admin/server.js';
import { ChangeFeed, consoleMark } from '../admin/events-api.js';
import { SnapshotCache } from '../admin/snapshot-cache.js';
import type { SubjectSnapshot } from '../admin/subjects-api.js';
import { serveAdmin, type AdminServer } from '../admin/probes.js';
import { ConsoleAccess } from './access.js';
import { withConsole } from './server.js';

export interface ConsoleServer extends AdminServer {
  feed: ChangeFeed;
}

export async function startConsoleServer(deps: AdminDeps, opts: { userHeader: string; assetsDir?: string; title?: string }, host: string, port: number): Promise<ConsoleServer> {
  const budgets = deps.budgets ?? deps.usage;
  const feed = new ChangeFeed({ mark: consoleMark({ ...(deps.ledger ? { ledger: deps.ledger } : {}), ...(budgets ? { budgets } : {}), ...(deps.now ? { now: deps.now } : {}) }) });
  const access = new ConsoleAccess({ adminToken: deps.adminToken ?? '', userHeader: opts.userHeader });
  // One listing of a policy's subjects per change (the feed's version), at most 1 s old: the pages of many open
  // browsers refetching after one change share it. Without open streams the version does not move: age decides.
  const snapshots = new SnapshotCache<SubjectSnapshot>({ maxAgeMs: 1000, version: () => feed.current, ...(deps.now ? { now: deps.now } : {}) });
  const routes = withConsole(adminRoutes({ ...deps, feed, snapshots }), { access, ...(opts.assetsDir ? { assetsDir: opts.assetsDir } : {}), ...(opts.title ? { title: opts.title } : {}) });
  const server = await serveAdmin(routes, host, port);
  return {
    port: server.port, feed,
    close: async () => {
      feed.close();
      await server.close();
    },
  };
}

/** Whether `tokenmeter extproc` serves the console: `on`, or `auto` in local mode (policies from files, not the operator's ConfigMap). */
export function consoleEnabled(config: { console: 'auto' | 'on' | 'off'; policiesConfigMap: unknown }): boolean {
  return config.console === 'on' || (config.console === 'auto' && config.policiesConfigMap === undefined);
}
