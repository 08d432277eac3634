// The pod plan: which containers a pattern runs, their ports, and the env settings that wire them
// as manifests/full does. What differs, because this is one machine and not a pod: the volumes are
// temp dirs, ports may be shifted (--port-base), everything binds 127.0.0.1, and the ambassador
// has no drain delay (there are no Service endpoints to leave).
import { join } from 'node:path';
import type { Pattern } from './cli.ts';

export type ContainerName = 'web' | 'content-sync' | 'ambassador' | 'log-adapter';

export interface Ports {
  readonly ambassador: number;
  readonly web: number;
  readonly sync: number;
  readonly ambassadorAdmin: number;
  readonly adapter: number;
  readonly view: number;
}

/** The pod's own ports (manifests/full/full.yaml); the pod view has none in the pod, 8090 is the demo's. */
export const DEFAULT_PORTS: Ports = {
  ambassador: 8000,
  web: 8080,
  sync: 8081,
  ambassadorAdmin: 9901,
  adapter: 9113,
  view: 8090,
};

export function portsFor(base: number | undefined): Ports {
  if (base === undefined) return DEFAULT_PORTS;
  return {
    ambassador: base,
    web: base + 1,
    sync: base + 2,
    ambassadorAdmin: base + 3,
    adapter: base + 4,
    view: base + 5,
  };
}

export interface PortUse {
  readonly port: number;
  /** What listens there, for messages: "ambassador (traffic)". */
  readonly what: string;
}

export interface ContainerPlan {
  readonly name: ContainerName;
  readonly role: 'main' | 'sidecar' | 'ambassador' | 'adapter';
  /** packages/<name>/dist/main.js, relative to the repo root. */
  readonly main: string;
  readonly env: Readonly<Record<string, string>>;
  readonly ports: readonly PortUse[];
  /** Where its /readyz answers. */
  readonly readyz: string;
  /** Its /metrics, if it has one. */
  readonly metrics?: string;
}

export interface PodPlan {
  readonly pattern: Pattern;
  readonly ports: Ports;
  readonly source: string;
  /** The two emptyDir volumes, as temp dirs. */
  readonly contentDir: string;
  readonly logDir: string;
  readonly accessLog: string;
  /** The site URL a visitor uses: through the ambassador when there is one. */
  readonly siteUrl: string;
  readonly viewUrl: string;
  readonly containers: readonly ContainerPlan[];
}

const HOST = '127.0.0.1';
const url = (port: number, path = '') => `http://${HOST}:${port}${path}`;

export function containersOf(pattern: Pattern): ContainerName[] {
  switch (pattern) {
    case 'full':
      return ['content-sync', 'web', 'ambassador', 'log-adapter'];
    case 'sidecar':
      return ['content-sync', 'web'];
    case 'ambassador':
      return ['web', 'ambassador'];
    case 'adapter':
      return ['web', 'log-adapter'];
  }
}

export function planPod(opts: {
  pattern: Pattern;
  ports: Ports;
  source: string;
  contentDir: string;
  logDir: string;
}): PodPlan {
  const { pattern, ports, source, contentDir, logDir } = opts;
  const names = containersOf(pattern);
  const accessLog = join(logDir, 'access.log');
  // Without the sidecar, web serves the source directory itself (as a ConfigMap mount would be).
  const webRoot = names.includes('content-sync') ? join(contentDir, 'current') : source;
  const plans: Record<ContainerName, ContainerPlan> = {
    'content-sync': {
      name: 'content-sync',
      role: 'sidecar',
      main: 'packages/content-sync/dist/main.js',
      env: {
        SYNC_SOURCE: source,
        SYNC_TARGET: contentDir,
        SYNC_ADMIN_PORT: String(ports.sync),
        SYNC_ADMIN_HOST: HOST,
      },
      ports: [{ port: ports.sync, what: 'content-sync admin' }],
      readyz: url(ports.sync, '/readyz'),
      metrics: url(ports.sync, '/metrics'),
    },
    web: {
      name: 'web',
      role: 'main',
      main: 'packages/web/dist/main.js',
      env: {
        WEB_ROOT: webRoot,
        WEB_PORT: String(ports.web),
        WEB_HOST: HOST,
        // The adapter reads this file; without an adapter web still logs, to the volume.
        WEB_ACCESS_LOG: accessLog,
        WEB_ACCESS_LOG_MAX_SIZE: '10Mi',
        WEB_ACCESS_LOG_KEEP: '2',
      },
      ports: [{ port: ports.web, what: 'web (content)' }],
      readyz: url(ports.web, '/readyz'),
    },
    ambassador: {
      name: 'ambassador',
      role: 'ambassador',
      main: 'packages/ambassador/dist/main.js',
      env: {
        AMBASSADOR_LISTEN: String(ports.ambassador),
        AMBASSADOR_HOST: HOST,
        AMBASSADOR_UPSTREAMS: url(ports.web),
        AMBASSADOR_ADMIN_PORT: String(ports.ambassadorAdmin),
        // In a cluster the drain delay lets Service endpoints drop the pod first; here there are none,
        // so Ctrl-C need not wait for it.
        AMBASSADOR_DRAIN_DELAY: '0s',
      },
      ports: [
        { port: ports.ambassador, what: 'ambassador (traffic)' },
        { port: ports.ambassadorAdmin, what: 'ambassador admin' },
      ],
      readyz: url(ports.ambassadorAdmin, '/readyz'),
      metrics: url(ports.ambassadorAdmin, '/metrics'),
    },
    'log-adapter': {
      name: 'log-adapter',
      role: 'adapter',
      main: 'packages/log-adapter/dist/main.js',
      env: {
        ADAPTER_LOG_PATH: accessLog,
        ADAPTER_START: 'beginning',
        ADAPTER_PORT: String(ports.adapter),
        ADAPTER_HOST: HOST,
      },
      ports: [{ port: ports.adapter, what: 'log-adapter metrics' }],
      readyz: url(ports.adapter, '/readyz'),
      metrics: url(ports.adapter, '/metrics'),
    },
  };
  return {
    pattern,
    ports,
    source,
    contentDir,
    logDir,
    accessLog,
    siteUrl: names.includes('ambassador') ? url(ports.ambassador, '/') : url(ports.web, '/'),
    viewUrl: url(ports.view, '/'),
    containers: names.map((n) => plans[n]),
  };
}

/** Every port the demo will listen on, the pod view's included. */
export function portsInUse(plan: PodPlan): PortUse[] {
  return [...plan.containers.flatMap((c) => c.ports), { port: plan.ports.view, what: 'pod view' }];
}
