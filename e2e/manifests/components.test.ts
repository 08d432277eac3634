// The reuse components (manifests/components/*) applied to the worked example's nginx workload as
// a Deployment, a StatefulSet and a DaemonSet, the way a user's kustomization applies them:
// rendered with kustomize, every object validated against the Kubernetes schema, and what each
// component promises checked — its container once, hardened, probes on ports it declares, volumes
// wired, the values of its ConfigMap where they belong, the Service's targetPort — and a workload
// without the label left as it was. Node-only: part of `pnpm test` (vitest project "manifests").
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDocument, stringify } from 'yaml';
import {
  type Container,
  hardeningProblems,
  podsOf,
  REUSE_COMPONENTS,
  type ReuseComponent,
  settingsOf,
  validate,
  version,
} from '../src/checks.ts';
import { type K8sObject, manifestsDir, parseObjects, render, repoRoot } from '../src/render.ts';

const componentsDir = join(manifestsDir, 'components');
const exampleDir = join(repoRoot, 'examples/nginx');
const KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
type Kind = (typeof KINDS)[number];

const work = mkdtempSync(join(tmpdir(), 'multipod-components-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The example's nginx Deployment with none of the components' labels: a workload as users have it. */
function plainNginx(): K8sObject {
  const objects = parseObjects(readFileSync(join(exampleDir, 'nginx.yaml'), 'utf8'));
  const deployment = structuredClone(objects.find((o) => o.kind === 'Deployment'));
  if (!deployment) throw new Error('examples/nginx/nginx.yaml has no Deployment');
  for (const key of Object.keys(deployment.metadata.labels ?? {}))
    if (key.startsWith('multipod.io/')) delete deployment.metadata.labels?.[key];
  return deployment;
}

/** The same workload as another kind: what differs is the spec fields each kind has. */
function asKind(deployment: K8sObject, kind: Kind, name: string): K8sObject {
  const w = structuredClone(deployment);
  w.kind = kind;
  w.metadata.name = name;
  if (kind === 'StatefulSet') w.spec.serviceName = 'nginx';
  if (kind === 'DaemonSet') delete w.spec.replicas;
  return w;
}

const nginxService = (labels: Record<string, string>): K8sObject => {
  const svc = parseObjects(readFileSync(join(exampleDir, 'nginx.yaml'), 'utf8')).find(
    (o) => o.kind === 'Service',
  );
  if (!svc) throw new Error('examples/nginx/nginx.yaml has no Service');
  svc.metadata.labels = { 'app.kubernetes.io/name': 'nginx', ...labels };
  return svc;
};

/** A component's values.yaml as shipped, with some of its data replaced. */
function valuesOf(values: string, data: Record<string, string> = {}): K8sObject {
  const [cm] = parseObjects(readFileSync(join(componentsDir, values, 'values.yaml'), 'utf8'));
  if (!cm?.data) throw new Error(`${values}/values.yaml: no ConfigMap data`);
  for (const key of Object.keys(data))
    if (!(key in cm.data)) throw new Error(`${values}/values.yaml has no key ${key}`);
  return { ...cm, data: { ...cm.data, ...data } };
}

let dirs = 0;
/** Writes a user's kustomization (resources + components) to a fresh folder and renders it. */
function build(resources: K8sObject[], components: string[], extra = ''): K8sObject[] {
  const dir = join(work, `k${++dirs}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'resources.yaml'), resources.map((r) => stringify(r)).join('---\n'));
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    [
      'resources: [resources.yaml]',
      'components:',
      ...components.map((c) => `  - ${relative(dir, join(componentsDir, c))}`),
      extra,
    ].join('\n'),
  );
  return render(dir);
}

/** The keys of the values ConfigMap a component's replacements read (`data.<key>`). */
function replacementKeys(component: string): string[] {
  const k = parseDocument(
    readFileSync(join(componentsDir, component, 'kustomization.yaml'), 'utf8'),
  ).toJS() as {
    replacements?: { source: { fieldPath: string } }[];
  };
  return (k.replacements ?? []).map((r) => r.source.fieldPath.replace(/^data\./, '')).sort();
}

/** The container a component's patch file adds, as written there (its defaults). */
function patchedContainer(component: string, file: string, init = false): Container {
  const [patch] = parseObjects(readFileSync(join(componentsDir, component, file), 'utf8'));
  return (init ? patch?.spec.template.spec.initContainers : patch?.spec.template.spec.containers)?.[0];
}

const env = (c: Container, name: string): string | undefined =>
  c?.env?.find((e: { name: string }) => e.name === name)?.value;
const named = (list: Container[] | undefined, name: string): Container[] =>
  (list ?? []).filter((c: Container) => c.name === name);

interface Case {
  /** The container it adds, and whether as an init container; none for pod-monitor. */
  container?: { name: string; init?: boolean; patch: string };
  /** The component whose values.yaml (ConfigMap) it reads; none for pod-monitor. */
  values?: string;
  /** Values unlike the shipped ones, so the test sees each one arrive. */
  data?: Record<string, string>;
  /** A shared volume: the app's container mounts it where the README says, as a user would. */
  shared?: { volume: string; appPath: string; readOnly?: boolean };
  /** Checks of where the values went. */
  check(pod: K8sObject, objects: K8sObject[]): void;
}

const CASES: Record<ReuseComponent, Case> = {
  'ambassador-inbound': {
    container: { name: 'ambassador', patch: 'ambassador.yaml' },
    values: 'ambassador-inbound',
    data: { 'app-port': '8081', 'listen-port': '8001', 'health-check': '/ping' },
    check(pod, objects) {
      const [amb] = named(pod.spec.containers, 'ambassador');
      expect(env(amb, 'AMBASSADOR_UPSTREAMS')).toBe('http://127.0.0.1:8081');
      expect(env(amb, 'AMBASSADOR_LISTEN')).toBe('8001');
      expect(env(amb, 'AMBASSADOR_HEALTH_CHECK')).toBe('/ping');
      expect(env(amb, 'AMBASSADOR_READY_WHEN')).toBe('upstream');
      expect(amb.ports).toContainEqual({ name: 'http', containerPort: 8001 });
      // The labelled Service now sends clients to the ambassador's port, by its name.
      const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'nginx');
      expect(svc?.spec.ports[0].targetPort).toBe('http');
      const unlabelled = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'other');
      expect(unlabelled?.spec.ports[0].targetPort).toBe('web');
    },
  },
  'ambassador-outbound': {
    container: { name: 'ambassador', patch: 'ambassador.yaml' },
    values: 'ambassador-outbound',
    data: {
      'listen-port': '9000',
      upstreams: 'http://api:9090,http://api-b:9090',
      'health-check': '/readyz',
    },
    check(pod, objects) {
      const [amb] = named(pod.spec.containers, 'ambassador');
      expect(env(amb, 'AMBASSADOR_LISTEN')).toBe('9000');
      expect(env(amb, 'AMBASSADOR_UPSTREAMS')).toBe('http://api:9090,http://api-b:9090');
      expect(env(amb, 'AMBASSADOR_HEALTH_CHECK')).toBe('/readyz');
      expect(env(amb, 'AMBASSADOR_HOST_HEADER')).toBe('upstream');
      expect(env(amb, 'AMBASSADOR_READY_WHEN')).toBeUndefined(); // outbound: ready once listening
      // Outbound is for the pod's own containers: no Service is pointed at it.
      const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'nginx');
      expect(svc?.spec.ports[0].targetPort).toBe('web');
    },
  },
  'log-adapter': {
    container: { name: 'log-adapter', patch: 'log-adapter.yaml' },
    values: 'log-adapter',
    data: { 'log-file': 'nginx/access.log', format: 'combined', 'size-limit': '32Mi' },
    shared: { volume: 'multipod-access-log', appPath: '/var/log/nginx' },
    check(pod) {
      const [adapter] = named(pod.spec.containers, 'log-adapter');
      expect(env(adapter, 'ADAPTER_LOG_PATH')).toBe('/var/log/app/nginx/access.log');
      expect(env(adapter, 'ADAPTER_FORMAT')).toBe('combined');
      const volume = pod.spec.volumes.find((v: { name: string }) => v.name === 'multipod-access-log');
      expect(volume.emptyDir.sizeLimit).toBe('32Mi');
      expect(adapter.volumeMounts).toContainEqual({
        name: 'multipod-access-log',
        mountPath: '/var/log/app',
        readOnly: true,
      });
      expect(pod.metadata.annotations).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9113',
      });
    },
  },
  'log-adapter-syslog': {
    container: { name: 'log-adapter', patch: 'log-adapter.yaml' },
    values: 'log-adapter-syslog',
    data: { listen: 'udp://127.0.0.1:5514', format: 'combined' },
    check(pod) {
      const [adapter] = named(pod.spec.containers, 'log-adapter');
      expect(env(adapter, 'ADAPTER_SYSLOG_LISTEN')).toBe('udp://127.0.0.1:5514');
      expect(env(adapter, 'ADAPTER_FORMAT')).toBe('combined');
      expect(env(adapter, 'ADAPTER_LOG_PATH')).toBeUndefined(); // no file: syslog only
      expect(adapter.volumeMounts).toBeUndefined();
      expect(pod.metadata.annotations).toMatchObject({ 'prometheus.io/port': '9113' });
    },
  },
  'content-sync': {
    container: { name: 'content-sync', patch: 'content-sync.yaml' },
    values: 'content-sync',
    data: { source: 'git+https://git.example.org/site.git', interval: '30s', 'size-limit': '128Mi' },
    shared: { volume: 'multipod-www', appPath: '/srv/www', readOnly: true },
    check(pod) {
      const [sync] = named(pod.spec.containers, 'content-sync');
      expect(env(sync, 'SYNC_SOURCE')).toBe('git+https://git.example.org/site.git');
      expect(env(sync, 'SYNC_INTERVAL')).toBe('30s');
      expect(env(sync, 'SYNC_TARGET')).toBe('/srv/www');
      expect(sync.volumeMounts).toContainEqual({ name: 'multipod-www', mountPath: '/srv/www' });
      const volume = pod.spec.volumes.find((v: { name: string }) => v.name === 'multipod-www');
      expect(volume.emptyDir.sizeLimit).toBe('128Mi');
    },
  },
  'content-sync-init': {
    container: { name: 'content-sync', init: true, patch: 'content-sync.yaml' },
    values: 'content-sync',
    data: { source: 'https://cdn.example.org/site-v7.tar.gz', 'size-limit': '96Mi' },
    shared: { volume: 'multipod-www', appPath: '/srv/www', readOnly: true },
    check(pod) {
      const [sync] = named(pod.spec.initContainers, 'content-sync');
      expect(named(pod.spec.containers, 'content-sync')).toEqual([]);
      expect(env(sync, 'SYNC_SOURCE')).toBe('https://cdn.example.org/site-v7.tar.gz');
      expect(env(sync, 'SYNC_ONCE')).toBe('true');
      const volume = pod.spec.volumes.find((v: { name: string }) => v.name === 'multipod-www');
      expect(volume.emptyDir.sizeLimit).toBe('96Mi');
    },
  },
  'pod-monitor': {
    check(pod, objects) {
      const monitors = objects.filter((o) => o.kind === 'PodMonitor');
      expect(monitors).toHaveLength(1);
      const selector: Record<string, string> = monitors[0]?.spec.selector.matchLabels;
      // It selects this workload's pods, and only pods its label was put on.
      for (const [k, v] of Object.entries(selector)) expect(pod.metadata.labels?.[k], k).toBe(v);
      expect(monitors[0]?.spec.podMetricsEndpoints.map((e: { port: string }) => e.port)).toEqual([
        'metrics',
        'admin',
        'sync-admin',
      ]);
      // And the alerting rules, for the Operator's Prometheus.
      const rules = objects.filter((o) => o.kind === 'PrometheusRule');
      expect(rules.map((r) => r.metadata.name)).toEqual(['multipod']);
      expect(rules[0]?.spec.groups.length).toBeGreaterThan(0);
    },
  },
};

/** The workload of a case: the component's label, and the app's mount of a shared volume. */
function workloadFor(component: ReuseComponent, kind: Kind, c: Case): K8sObject {
  const w = asKind(plainNginx(), kind, 'nginx');
  w.metadata.labels = { ...w.metadata.labels, [`multipod.io/${component}`]: 'true' };
  if (c.shared) {
    const [app] = named(w.spec.template.spec.containers, 'nginx');
    app.volumeMounts.push({
      name: c.shared.volume,
      mountPath: c.shared.appPath,
      ...(c.shared.readOnly ? { readOnly: true } : {}),
    });
  }
  return w;
}

describe('reuse components', () => {
  it('each selects workloads by its own label, multipod.io/<component>', () => {
    for (const c of REUSE_COMPONENTS) {
      const text = readFileSync(join(componentsDir, c, 'kustomization.yaml'), 'utf8');
      const selectors = new Set([...text.matchAll(/labelSelector: ([^\s,}]+)/g)].map((m) => m[1]));
      expect([...selectors], c).toEqual([`multipod.io/${c}=true`]);
    }
  });

  describe.each(REUSE_COMPONENTS)('%s', (component) => {
    const c = CASES[component];

    it('ships a values.yaml with the keys it reads, whose values are the defaults written in the component', () => {
      if (!c.values) return expect(replacementKeys(component)).toEqual([]);
      const shipped = valuesOf(c.values);
      expect(shipped.metadata.annotations?.['config.kubernetes.io/local-config']).toBe('true');
      const keys = Object.keys(shipped.data ?? {}).sort();
      // Its own values file holds what it reads and nothing else; content-sync-init reads a part
      // of content-sync's.
      if (c.values === component) expect(keys).toEqual(replacementKeys(component));
      else for (const k of replacementKeys(component)) expect(keys).toContain(k);
      // Rendered with the values as shipped, the container is the one the patch file shows.
      const [pod] = podsOf(
        build([workloadFor(component, 'Deployment', c), shipped], [component]).filter(
          (o) => o.kind === 'Deployment',
        ),
      );
      const container = c.container;
      if (container && pod) {
        const list = container.init ? pod.spec.initContainers : pod.spec.containers;
        expect(named(list, container.name)).toEqual([
          patchedContainer(component, container.patch, container.init),
        ]);
      }
    });

    it.each(KINDS)('on a %s: its container once, hardened, probed, wired, with the values given', (kind) => {
      const other = asKind(plainNginx(), kind, 'other');
      const otherService = { ...nginxService({}), metadata: { name: 'other', labels: {} } };
      const resources = [
        workloadFor(component, kind, c),
        other,
        nginxService({ [`multipod.io/${component}`]: 'true' }),
        otherService,
        ...(c.values ? [valuesOf(c.values, c.data)] : []),
      ];
      const objects = build(resources, [component]);
      for (const obj of objects)
        expect(() => validate(obj), `${obj.kind}/${obj.metadata.name}`).not.toThrow();
      // The values ConfigMap is for kustomize only: nothing of it is applied.
      expect(
        objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('multipod-')),
      ).toEqual([]);

      const workload = objects.find((o) => o.kind === kind && o.metadata.name === 'nginx');
      const [pod] = podsOf(workload ? [workload] : []);
      if (!pod) throw new Error(`no ${kind} nginx rendered`);
      expect(hardeningProblems(pod)).toEqual([]);
      expect(pod.metadata.labels?.[`multipod.io/${component}`]).toBe('true');
      // The selector still selects the pods: the label the component adds is not part of it.
      for (const [k, v] of Object.entries(workload?.spec.selector.matchLabels ?? {}))
        expect(pod.metadata.labels?.[k]).toBe(v);

      const all: Container[] = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
      const names = all.map((x) => x.name);
      expect(new Set(names).size, `container names: ${names.join(', ')}`).toBe(names.length);
      expect(named(pod.spec.containers, 'nginx')).toHaveLength(1);
      if (c.container) {
        const list = c.container.init ? pod.spec.initContainers : pod.spec.containers;
        const helpers = named(list, c.container.name);
        expect(helpers).toHaveLength(1);
        const helper = helpers[0];
        const image = /^ghcr\.io\/multipod\/multipod-([a-z-]+):(.+)$/.exec(helper.image);
        expect(image?.[1]).toBe(helper.name);
        expect(image?.[2]).toBe(version(helper.name));
        const known = settingsOf(helper.name);
        for (const e of helper.env ?? []) expect(known, `${helper.name}: ${e.name}`).toContain(e.name);
        if (!c.container.init) {
          // Probes reach the helper on a port it declares, by name.
          const ports = new Set((helper.ports ?? []).map((p: { name: string }) => p.name));
          for (const probe of [helper.readinessProbe, helper.livenessProbe]) {
            expect(probe?.httpGet?.path).toMatch(/^\/(healthz|readyz)$/);
            expect(ports).toContain(probe?.httpGet?.port);
          }
        }
      }
      // Port names and numbers are the pod's: each once across its containers.
      const ports = all.flatMap((x) => x.ports ?? []);
      const portNames = ports.map((p: { name?: string }) => p.name).filter(Boolean);
      expect(new Set(portNames).size, `port names: ${portNames.join(', ')}`).toBe(portNames.length);
      const numbers = ports.map((p: { containerPort: number }) => p.containerPort);
      expect(new Set(numbers).size, `ports: ${numbers.join(', ')}`).toBe(numbers.length);
      // Volumes wired: every mount names a volume of the pod, every volume is mounted.
      const volumes = new Set((pod.spec.volumes ?? []).map((v: { name: string }) => v.name));
      const mounted = new Set(
        all.flatMap((x) => (x.volumeMounts ?? []).map((m: { name: string }) => m.name)),
      );
      for (const m of mounted) expect(volumes, `mount ${m}`).toContain(m);
      for (const v of volumes) expect(mounted, `volume ${v}`).toContain(v);
      if (c.shared) {
        const users = all.filter((x) =>
          (x.volumeMounts ?? []).some((m: { name: string }) => m.name === c.shared?.volume),
        );
        expect(users.map((x) => x.name).sort()).toEqual(['nginx', c.container?.name].sort());
      }
      c.check(pod, objects);

      // The unlabelled workload is left exactly as it was.
      expect(objects.find((o) => o.kind === kind && o.metadata.name === 'other')).toEqual(other);
    });

    it('applied twice (in a base and again in an overlay) still adds one container', () => {
      if (!c.container) return;
      const base = join(work, `base-${component}`);
      mkdirSync(base);
      const resources = [workloadFor(component, 'Deployment', c), ...(c.values ? [valuesOf(c.values)] : [])];
      writeFileSync(join(base, 'resources.yaml'), resources.map((r) => stringify(r)).join('---\n'));
      writeFileSync(
        join(base, 'kustomization.yaml'),
        `resources: [resources.yaml]\ncomponents: [${relative(base, join(componentsDir, component))}]\n`,
      );
      const overlay = join(work, `overlay-${component}`);
      mkdirSync(overlay);
      // The base's values ConfigMap reaches the overlay too: kustomize drops it only at the end.
      writeFileSync(
        join(overlay, 'kustomization.yaml'),
        `resources: [../base-${component}]\ncomponents: [${relative(overlay, join(componentsDir, component))}]\n`,
      );
      const [pod] = podsOf(render(overlay).filter((o) => o.kind === 'Deployment'));
      const list = c.container.init ? pod?.spec.initContainers : pod?.spec.containers;
      expect(named(list, c.container.name)).toHaveLength(1);
    });

    it('without its values ConfigMap, kustomize stops and names it', () => {
      if (!c.values) return;
      expect(() => build([workloadFor(component, 'Deployment', c)], [component])).toThrow(
        new RegExp(`ConfigMap.*multipod-${c.values}`),
      );
    });
  });

  it('several on one workload: each container once, port names and numbers unique', () => {
    const chosen = ['log-adapter-syslog', 'ambassador-inbound', 'content-sync', 'pod-monitor'] as const;
    const w = asKind(plainNginx(), 'Deployment', 'nginx');
    for (const comp of chosen) w.metadata.labels = { ...w.metadata.labels, [`multipod.io/${comp}`]: 'true' };
    named(w.spec.template.spec.containers, 'nginx')[0].volumeMounts.push({
      name: 'multipod-www',
      mountPath: '/srv/www',
      readOnly: true,
    });
    const objects = build(
      [
        w,
        nginxService({ 'multipod.io/ambassador-inbound': 'true' }),
        valuesOf('log-adapter-syslog'),
        valuesOf('ambassador-inbound'),
        valuesOf('content-sync'),
      ],
      [...chosen],
    );
    for (const obj of objects) expect(() => validate(obj), `${obj.kind}/${obj.metadata.name}`).not.toThrow();
    const [pod] = podsOf(objects.filter((o) => o.kind === 'Deployment'));
    expect(hardeningProblems(pod!)).toEqual([]);
    expect(pod?.spec.containers.map((x: Container) => x.name).sort()).toEqual([
      'ambassador',
      'content-sync',
      'log-adapter',
      'nginx',
    ]);
    const ports = pod?.spec.containers.flatMap((x: Container) => x.ports ?? []) ?? [];
    expect(new Set(ports.map((p: { name: string }) => p.name)).size).toBe(ports.length);
    expect(new Set(ports.map((p: { containerPort: number }) => p.containerPort)).size).toBe(ports.length);
  });
});

describe.each(['nginx', 'web'])('examples/%s', (example) => {
  const objects = render(join(repoRoot, 'examples', example));

  it('renders to objects that validate, hardened, each multipod container at the released version with settings it knows', () => {
    for (const obj of objects) expect(() => validate(obj), `${obj.kind}/${obj.metadata.name}`).not.toThrow();
    const pods = podsOf(objects);
    expect(pods).toHaveLength(1);
    for (const pod of pods) {
      expect(hardeningProblems(pod)).toEqual([]);
      for (const c of pod.spec.containers) {
        const m = /^ghcr\.io\/multipod\/multipod-([a-z-]+):(.+)$/.exec(c.image);
        if (!m) continue;
        expect(c.name).toBe(m[1]);
        expect(m[2]).toBe(version(m[1] ?? ''));
        for (const e of c.env ?? []) expect(settingsOf(c.name), `${c.name}: ${e.name}`).toContain(e.name);
      }
    }
    // Everything is labelled as multipod's, so a test engine can find what is left of it.
    for (const obj of objects)
      expect(obj.metadata.labels?.['app.kubernetes.io/part-of'], obj.metadata.name).toBe('multipod');
  });
});

describe('examples/web', () => {
  const objects = render(join(repoRoot, 'examples/web'));
  const [pod] = podsOf(objects);

  it('web writes its log where the adapter reads it, rotating below the volume limit', () => {
    const [web] = named(pod?.spec.containers, 'web');
    const [adapter] = named(pod?.spec.containers, 'log-adapter');
    const log = env(web, 'WEB_ACCESS_LOG') ?? '';
    const dir = log.slice(0, log.lastIndexOf('/'));
    expect(web.volumeMounts).toContainEqual({ name: 'multipod-access-log', mountPath: dir });
    const mount = adapter.volumeMounts.find((m: { name: string }) => m.name === 'multipod-access-log');
    expect(env(adapter, 'ADAPTER_LOG_PATH')).toBe(`${mount.mountPath}${log.slice(dir.length)}`);
    const volume = pod?.spec.volumes.find((v: { name: string }) => v.name === 'multipod-access-log');
    const mi = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1]);
    const files = Number(env(web, 'WEB_ACCESS_LOG_KEEP')) + 1;
    expect(files * mi(env(web, 'WEB_ACCESS_LOG_MAX_SIZE') ?? '')).toBeLessThan(mi(volume.emptyDir.sizeLimit));
  });
});

describe('examples/nginx', () => {
  const objects = render(exampleDir);
  const deployment = objects.find((o) => o.kind === 'Deployment');
  const [pod] = podsOf(deployment ? [deployment] : []);

  it('renders to objects that validate, with a hardened pod', () => {
    for (const obj of objects) expect(() => validate(obj), `${obj.kind}/${obj.metadata.name}`).not.toThrow();
    expect(hardeningProblems(pod!)).toEqual([]);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/nginx-conf',
      'Deployment/nginx',
      'Service/nginx',
    ]);
  });

  it('nginx, its log-adapter and its ambassador: one container each, kubectl’s default nginx', () => {
    expect(pod?.spec.containers.map((c: Container) => c.name).sort()).toEqual([
      'ambassador',
      'log-adapter',
      'nginx',
    ]);
    expect(pod?.metadata.annotations?.['kubectl.kubernetes.io/default-container']).toBe('nginx');
  });

  it('wires nginx to its helpers: the syslog address, the port, the unlogged health check', () => {
    const conf = objects.find((o) => o.kind === 'ConfigMap')?.data?.['default.conf'] ?? '';
    const [adapter] = named(pod?.spec.containers, 'log-adapter');
    const [amb] = named(pod?.spec.containers, 'ambassador');
    const [nginx] = named(pod?.spec.containers, 'nginx');
    const listen = env(adapter, 'ADAPTER_SYSLOG_LISTEN') ?? '';
    expect(conf).toContain(`access_log syslog:server=${listen.replace(/^udp:\/\//, '')},`);
    const nginxPort = nginx.ports.find((p: { name: string }) => p.name === 'web').containerPort;
    expect(conf).toMatch(new RegExp(`listen ${nginxPort};`));
    expect(env(amb, 'AMBASSADOR_UPSTREAMS')).toBe(`http://127.0.0.1:${nginxPort}`);
    const check = env(amb, 'AMBASSADOR_HEALTH_CHECK');
    // The ambassador's checks and nginx's own probes hit a location nginx does not log.
    expect(conf).toMatch(new RegExp(`location = ${check} \\{\\s*access_log off;`));
    expect(nginx.readinessProbe.httpGet.path).toBe(check);
    expect(nginx.livenessProbe.httpGet.path).toBe(check);
    const svc = objects.find((o) => o.kind === 'Service');
    expect(svc?.spec.ports[0].targetPort).toBe('http');
    expect(amb.ports.find((p: { name: string }) => p.name === 'http').containerPort).toBe(
      Number(env(amb, 'AMBASSADOR_LISTEN')),
    );
  });
});
