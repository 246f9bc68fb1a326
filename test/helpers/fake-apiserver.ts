/**
 * A tiny kube-apiserver for tests: node:http on 127.0.0.1:0, bearer-token auth, discovery (/api, /apis,
 * /api/v1, /apis/GROUP/VERSION), get/list/create/replace/apply/delete on a few kinds, the /status subresource, and
 * watches streamed as newline-delimited JSON from a resourceVersion (replaying history), with bookmarks, dropped
 * connections and 410 Gone (as HTTP 410 or as an ERROR event). Every request is recorded so tests assert its shape.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../../src/k8s/client.js';
import {
  DEFAULT_RESOURCES,
  FakeStore,
  StoreError,
  apiVersionOf,
  discoveryDocument,
  type FakeResource,
  type StoredEvent,
} from './fake-apiserver-store.js';

export { DEFAULT_RESOURCES, type FakeResource } from './fake-apiserver-store.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  authorization: string | undefined;
  userAgent: string | undefined;
  body: unknown;
}

export interface FakeApiServerOptions {
  resources?: readonly FakeResource[];
  token?: string;
  /** How a watch from a compacted resourceVersion is refused: HTTP 410, or 200 then an ERROR event (code 410). */
  goneAs?: 'http' | 'event';
  /** Serve HTTPS with test/fixtures/tls (self-signed for 127.0.0.1); kubeConfig() then trusts that certificate. */
  tls?: boolean;
}

const TLS_DIR = new URL('../fixtures/tls/', import.meta.url);

interface OpenWatch {
  resource: FakeResource;
  namespace: string | undefined;
  bookmarks: boolean;
  res: http.ServerResponse;
  unsubscribe: () => void;
}

interface Target {
  resource: FakeResource;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

type Failure = { method: string; pathIncludes: string; status: number; reason: string };

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  /** TCP connections accepted (TLS or not): how many a client opened for its requests. */
  connections = 0;
  readonly store = new FakeStore();
  private readonly watches = new Set<OpenWatch>();
  private readonly failures: Failure[] = [];
  private resources: FakeResource[];
  private readonly token: string;
  goneAs: 'http' | 'event';

  private constructor(
    private readonly server: http.Server | https.Server,
    options: FakeApiServerOptions,
    private readonly ca?: Buffer,
  ) {
    this.resources = [...(options.resources ?? DEFAULT_RESOURCES)];
    this.token = options.token ?? 'test-token';
    this.goneAs = options.goneAs ?? 'event';
  }

  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const cert = options.tls ? readFileSync(new URL('cert.pem', TLS_DIR)) : undefined;
    const server = cert ? https.createServer({ cert, key: readFileSync(new URL('key.pem', TLS_DIR)) }) : http.createServer();
    const fake = new FakeApiServer(server, options, cert);
    server.on('request', (req, res) => fake.handle(req, res));
    server.on(cert ? 'secureConnection' : 'connection', () => fake.connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `${this.ca ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /**
   * A KubeConfig for this server, token auth: over HTTPS it trusts the test certificate (verification on); over plain
   * HTTP it sets insecure-skip-tls-verify, which client-node requires for http://.
   */
  kubeConfig(namespace = 'default'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [this.ca ? { name: 'fake', server: this.url, caData: this.ca.toString('base64'), skipTLSVerify: false } : { name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake', token: this.token }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace }],
      currentContext: 'fake',
    });
    return kc;
  }

  /** Recorded requests, optionally those with this method whose path starts with the prefix. */
  recorded(method?: string, pathPrefix = ''): RecordedRequest[] {
    return this.requests.filter((r) => (!method || r.method === method) && r.path.startsWith(pathPrefix));
  }

  watchRequests(pathPrefix = ''): RecordedRequest[] {
    return this.recorded('GET', pathPrefix).filter((r) => r.query.watch === 'true' || r.query.watch === '1');
  }

  /** Stores an object as if another client created or changed it (watchers see ADDED or MODIFIED). */
  put(obj: KubeObject): KubeObject {
    const r = this.resourceFor(obj.apiVersion, obj.kind);
    const { namespace, name } = obj.metadata;
    const current = this.store.get(r, namespace, name);
    if (!current) return this.store.create(r, obj);
    const next = { ...obj, metadata: { ...obj.metadata, resourceVersion: current.metadata.resourceVersion } };
    const updated = this.store.replace(r, next);
    return obj.status !== undefined && r.status ? this.store.replace(r, { ...updated, status: obj.status }, 'status') : updated;
  }

  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): void {
    this.store.delete(this.resourceFor(apiVersion, kind), namespace, name);
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(this.resourceFor(apiVersion, kind), namespace, name);
  }

  list(apiVersion: string, kind: string, namespace?: string): KubeObject[] {
    return this.store.list(this.resourceFor(apiVersion, kind), namespace, undefined);
  }

  /** Serves a new kind from now on (a CRD being installed). */
  addResource(r: FakeResource): void {
    this.resources.push(r);
  }

  /** The next request with this method whose path contains the string fails with this status. */
  failNext(method: string, pathIncludes: string, status: number, reason: string): void {
    this.failures.push({ method, pathIncludes, status, reason });
  }

  get openWatches(): number {
    return this.watches.size;
  }

  /** Ends every open watch response (a normal end, as when timeoutSeconds passes), or resets the sockets. */
  dropWatches(abrupt = false): void {
    for (const w of [...this.watches]) {
      this.closeWatch(w);
      if (abrupt) w.res.socket?.destroy();
      else w.res.end();
    }
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watch that allowed bookmarks. */
  bookmark(): void {
    for (const w of this.watches) {
      if (!w.bookmarks) continue;
      const object = { apiVersion: apiVersionOf(w.resource), kind: w.resource.kind, metadata: { resourceVersion: String(this.store.resourceVersion) } };
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
    }
  }

  /** Compacts history: open watches get an ERROR 410 event and end; watches from an older RV are refused. */
  expire(): void {
    this.store.compact();
    for (const w of [...this.watches]) {
      this.closeWatch(w);
      w.res.end(`${JSON.stringify(goneEvent())}\n`);
    }
  }

  async close(): Promise<void> {
    this.dropWatches(true);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', this.url);
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        contentType: req.headers['content-type'],
        authorization: req.headers.authorization,
        userAgent: req.headers['user-agent'],
        body: text ? (parseYaml(text) as unknown) : undefined,
      };
      this.requests.push(recorded);
      try {
        this.route(recorded, res);
      } catch (err) {
        const e = err instanceof StoreError ? err : new StoreError(500, 'InternalError', String(err));
        sendStatus(res, e.status, e.reason, e.message);
      }
    });
  }

  private route(req: RecordedRequest, res: http.ServerResponse): void {
    if (req.authorization !== `Bearer ${this.token}`) throw new StoreError(401, 'Unauthorized', 'Unauthorized');
    const failure = this.failures.findIndex((f) => f.method === req.method && req.path.includes(f.pathIncludes));
    if (failure >= 0) {
      const [f] = this.failures.splice(failure, 1);
      if (f) throw new StoreError(f.status, f.reason, `injected ${f.reason}`);
    }
    if (this.discovery(req, res)) return;
    const target = this.target(req.path);
    if (!target) throw new StoreError(404, 'NotFound', `the server could not find the requested resource`);
    if (target.name === undefined) return this.collection(req, target, res);
    sendJson(res, 200, this.item(req, target as Target & { name: string }));
  }

  private discovery(req: RecordedRequest, res: http.ServerResponse): boolean {
    const body = discoveryDocument(req.path, this.resources);
    return body !== undefined && sendJson(res, 200, body);
  }

  private target(path: string): Target | undefined {
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/([^/]+))\/(.*)$/.exec(path);
    if (!m) return undefined;
    let rest = (m[3] ?? '').split('/').filter(Boolean);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const gv = m[1] ? `${m[1]}/${m[2]}` : 'v1';
    const resource = this.resources.find((r) => apiVersionOf(r) === gv && r.plural === rest[0]);
    return resource && { resource, namespace, name: rest[1], subresource: rest[2] };
  }

  private collection(req: RecordedRequest, t: Target, res: http.ServerResponse): void {
    if (req.method === 'POST') {
      const obj = this.body(req, t);
      return void sendJson(res, 201, this.store.create(t.resource, obj));
    }
    if (req.method !== 'GET') throw new StoreError(405, 'MethodNotAllowed', `${req.method} on a collection`);
    if (req.query.watch === 'true' || req.query.watch === '1') return this.watch(req, t, res);
    const items = this.store.list(t.resource, t.namespace, req.query.labelSelector);
    const core = t.resource.group === '';
    const listed = items.map((o) => (core ? { metadata: o.metadata, ...withoutTypeMeta(o) } : o));
    const metadata = { resourceVersion: String(this.store.resourceVersion) };
    sendJson(res, 200, { apiVersion: apiVersionOf(t.resource), kind: `${t.resource.kind}List`, metadata, items: listed });
  }

  private item(req: RecordedRequest, t: Target & { name: string }): unknown {
    const sub = t.subresource === 'status' ? 'status' : undefined;
    if (t.subresource && !(sub && t.resource.status)) throw new StoreError(404, 'NotFound', `no subresource ${t.subresource}`);
    switch (req.method) {
      case 'GET': {
        const obj = this.store.get(t.resource, t.namespace, t.name);
        if (!obj) throw new StoreError(404, 'NotFound', `${t.resource.plural} "${t.name}" not found`);
        return obj;
      }
      case 'PUT':
        return this.store.replace(t.resource, this.body(req, t), sub);
      case 'PATCH': {
        if (req.contentType !== 'application/apply-patch+yaml') {
          throw new StoreError(415, 'UnsupportedMediaType', `the fake serves only server-side apply, not ${req.contentType}`);
        }
        const manager = req.query.fieldManager;
        if (!manager) throw new StoreError(400, 'BadRequest', 'fieldManager is required for apply requests');
        return this.store.apply(t.resource, this.body(req, t), manager, req.query.force === 'true', sub);
      }
      case 'DELETE': {
        this.store.delete(t.resource, t.namespace, t.name);
        return { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name: t.name, kind: t.resource.plural } };
      }
      default:
        throw new StoreError(405, 'MethodNotAllowed', `${req.method}`);
    }
  }

  /** The request body as an object whose apiVersion, kind, namespace and name agree with the path. */
  private body(req: RecordedRequest, t: Target): KubeObject {
    const obj = req.body as KubeObject | undefined;
    if (!obj || typeof obj !== 'object' || !obj.metadata) throw new StoreError(400, 'BadRequest', 'no object in body');
    if (obj.apiVersion !== apiVersionOf(t.resource) || obj.kind !== t.resource.kind) {
      throw new StoreError(400, 'BadRequest', `body is ${obj.apiVersion} ${obj.kind}, path is ${t.resource.plural}`);
    }
    if (t.resource.namespaced && obj.metadata.namespace !== t.namespace) {
      if (obj.metadata.namespace !== undefined) throw new StoreError(400, 'BadRequest', 'namespace of body and path differ');
      obj.metadata.namespace = t.namespace;
    }
    if (t.name !== undefined && obj.metadata.name !== t.name) throw new StoreError(400, 'BadRequest', 'name of body and path differ');
    return obj;
  }

  private watch(req: RecordedRequest, t: Target, res: http.ServerResponse): void {
    const from = req.query.resourceVersion ?? '';
    const fromRv = Number(from || '0');
    if (from && from !== '0' && this.store.isTooOld(fromRv)) {
      if (this.goneAs === 'http') throw new StoreError(410, 'Expired', `too old resource version: ${from}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(`${JSON.stringify(goneEvent(from))}\n`);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders(); // as the real server does: the client sees the watch open before the first event
    const matches = (e: StoredEvent): boolean =>
      e.resource === t.resource && (!t.namespace || e.object.metadata.namespace === t.namespace);
    const send = (type: string, object: KubeObject): boolean => res.write(`${JSON.stringify({ type, object })}\n`);
    if (!from || from === '0') {
      for (const o of this.store.list(t.resource, t.namespace, req.query.labelSelector)) send('ADDED', o);
    } else {
      for (const e of this.store.history) if (e.rv > fromRv && matches(e)) send(e.type, e.object);
    }
    const w: OpenWatch = {
      resource: t.resource,
      namespace: t.namespace,
      bookmarks: req.query.allowWatchBookmarks === 'true',
      res,
      unsubscribe: this.store.subscribe((e) => void (matches(e) && send(e.type, e.object))),
    };
    this.watches.add(w);
    res.on('close', () => this.closeWatch(w));
    const timeout = Number(req.query.timeoutSeconds ?? '0');
    if (timeout > 0) setTimeout(() => this.watches.has(w) && (this.closeWatch(w), res.end()), timeout * 1000).unref();
  }

  private closeWatch(w: OpenWatch): void {
    w.unsubscribe();
    this.watches.delete(w);
  }

  private resourceFor(apiVersion: string, kind: string): FakeResource {
    const r = this.resources.find((x) => apiVersionOf(x) === apiVersion && x.kind === kind);
    if (!r) throw new Error(`fake apiserver does not serve ${apiVersion} ${kind}`);
    return r;
  }
}

function goneEvent(rv = ''): unknown {
  const message = `too old resource version: ${rv}`;
  return { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason: 'Expired', code: 410 } };
}

function withoutTypeMeta(o: KubeObject): Record<string, unknown> {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return true;
}

function sendStatus(res: http.ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}
