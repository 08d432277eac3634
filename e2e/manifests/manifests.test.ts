// Renders every kustomization under manifests/ (kubectl kustomize) and checks each object against
// the Kubernetes schema (kubernetes-models validators) and the project's hardening rules.
// Node-only: part of `pnpm test` (vitest project "manifests").
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type Container,
  hardeningProblems,
  podsOf,
  REUSE_COMPONENTS,
  settingsOf,
  validate,
  version,
} from '../src/checks.ts';
import { isComponent, type K8sObject, kustomizations, manifestsDir, render } from '../src/render.ts';

const all = kustomizations();
const renderable = all.filter((d) => !isComponent(d));
const components = all.filter((d) => isComponent(d));
const rendered = new Map(renderable.map((d) => [d, render(d)] as const));

describe('manifests', () => {
  it('finds the kustomizations: every pattern, its variants and the native-sidecars component', () => {
    expect(renderable).toEqual(
      expect.arrayContaining([
        'seed-sample',
        'seed-sample-shared-pid',
        'sidecar',
        'sidecar-init',
        'ambassador',
        'ambassador/inbound',
        'ambassador/outbound',
        'adapter',
        'adapter-prometheus',
        'full',
        'full-native-sidecars',
      ]),
    );
    expect(components).toEqual(
      [...REUSE_COMPONENTS.map((c) => `components/${c}`), 'components/native-sidecars'].sort(),
    );
  });

  it('every component is used by some kustomization (the reuse components: by components.test.ts)', () => {
    for (const comp of components.filter((c) => !REUSE_COMPONENTS.some((r) => c === `components/${r}`))) {
      const users = renderable.filter((d) =>
        readFileSync(join(manifestsDir, d, 'kustomization.yaml'), 'utf8').includes(
          comp.split('/').pop() ?? comp,
        ),
      );
      expect(users, comp).not.toEqual([]);
    }
  });

  describe.each(renderable)('%s', (dir) => {
    const objects = rendered.get(dir) ?? [];

    it('renders to objects that validate against the Kubernetes schema', () => {
      expect(objects.length).toBeGreaterThan(0);
      for (const obj of objects)
        expect(() => validate(obj), `${obj.kind}/${obj.metadata.name}`).not.toThrow();
    });

    it('labels every object as part of multipod', () => {
      for (const obj of objects)
        expect(obj.metadata.labels?.['app.kubernetes.io/part-of'], obj.metadata.name).toBe('multipod');
    });

    it('hardens every pod', () => {
      for (const pod of podsOf(objects)) {
        expect(hardeningProblems(pod), `pod ${pod.metadata.name}`).toEqual([]);
      }
    });

    it('uses one name per component (container = image) at the released version, with settings it knows', () => {
      for (const pod of podsOf(objects)) {
        for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
          const m = /^ghcr\.io\/multipod\/multipod-([a-z-]+):(.+)$/.exec(c.image);
          if (!m) continue;
          const [, component = '', tag] = m;
          expect(c.name, `${pod.metadata.name}: container of image ${c.image}`).toBe(component);
          expect(tag, `${c.image}: tag = packages/${component} version`).toBe(version(component));
          const known = settingsOf(component);
          for (const e of c.env ?? [])
            expect(known, `${pod.metadata.name}/${c.name}: ${e.name}`).toContain(e.name);
        }
      }
    });

    it('refers only to ConfigMaps and Secrets it defines, and every Service selects a pod of the set', () => {
      const configMaps = new Set(objects.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name));
      const secrets = new Set(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name));
      const pods = objects.filter((o) => o.kind === 'Pod');
      for (const pod of podsOf(objects)) {
        for (const v of pod.spec.volumes ?? []) {
          if (v.configMap)
            expect(configMaps, `${pod.metadata.name} volume ${v.name}`).toContain(v.configMap.name);
          if (v.secret)
            expect(secrets, `${pod.metadata.name} volume ${v.name}`).toContain(v.secret.secretName);
        }
      }
      for (const svc of objects.filter((o) => o.kind === 'Service')) {
        const selector = Object.entries(svc.spec.selector ?? {});
        const selected = pods.filter((p) => selector.every(([k, v]) => p.metadata.labels?.[k] === v));
        expect(selected.length, `Service ${svc.metadata.name} selects no pod`).toBeGreaterThan(0);
      }
    });
  });

  it('sidecar-git-private: the git credentials come from a mounted Secret file, never from a value in the pod', () => {
    const [pod] = podsOf(rendered.get('sidecar-git-private') ?? []);
    const sync = pod?.spec.containers.find((c: Container) => c.name === 'content-sync');
    const env = new Map<string, { value?: string }>(
      (sync?.env ?? []).map((e: { name: string }) => [e.name, e]),
    );
    const file = env.get('SYNC_PASSWORD_FILE')?.value ?? '';
    const mount = (sync?.volumeMounts ?? []).find((m: { mountPath: string }) =>
      file.startsWith(`${m.mountPath}/`),
    );
    const volume = (pod?.spec.volumes ?? []).find((v: { name: string }) => v.name === mount?.name);
    expect(volume?.secret?.secretName).toBe('sidecar-git-credentials-private');
    expect(mount?.readOnly).toBe(true);
    expect(env.get('SYNC_SOURCE')?.value).toMatch(/^git\+https:\/\//);
  });

  it('gives each port of a component one name in every manifest (a probe or Service reads the same everywhere)', () => {
    const names = new Map<string, Set<string>>();
    for (const objects of rendered.values())
      for (const pod of podsOf(objects))
        for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers])
          for (const p of c.ports ?? []) {
            const key = `${c.name}:${p.containerPort}`;
            names.set(key, new Set([...(names.get(key) ?? []), p.name]));
          }
    const several = [...names].filter(([, n]) => n.size > 1).map(([k, n]) => `${k}: ${[...n].join(', ')}`);
    expect(several).toEqual([]);
    expect(names.get('content-sync:8081')).toEqual(new Set(['sync-admin']));
    expect(names.get('web:8080')).toEqual(new Set(['web']));
  });

  it('seed-sample keeps the seed: nginx and busybox-sidecar; the variant shares the process namespace', () => {
    const [seed] = (rendered.get('seed-sample') ?? []).filter((o) => o.kind === 'Pod');
    const [shared] = (rendered.get('seed-sample-shared-pid') ?? []).filter((o) => o.kind === 'Pod');
    expect(seed?.spec.containers.map((c: Container) => c.name)).toEqual(['nginx', 'busybox-sidecar']);
    expect(seed?.spec.containers[1].command).toEqual(['sh', '-c', 'echo hello kubernetes && sleep 3600']);
    expect(seed?.spec.shareProcessNamespace).toBeUndefined();
    expect(shared?.spec.shareProcessNamespace).toBe(true);
  });

  it('sidecar-init runs content-sync once, as an init container', () => {
    const [pod] = (rendered.get('sidecar-init') ?? []).filter((o) => o.kind === 'Pod');
    expect(pod?.spec.containers.map((c: Container) => c.name)).toEqual(['web']);
    const init = pod?.spec.initContainers?.[0];
    expect(init?.name).toBe('content-sync');
    expect(init?.env).toContainEqual({ name: 'SYNC_ONCE', value: 'true' });
  });

  it("the native-sidecars component turns full's helpers into restartPolicy: Always init containers", () => {
    const [pod] = (rendered.get('full-native-sidecars') ?? []).filter((o) => o.kind === 'Pod');
    expect(pod?.spec.containers.map((c: Container) => c.name)).toEqual(['web']);
    expect(pod?.spec.initContainers.map((c: Container) => [c.name, c.restartPolicy])).toEqual([
      ['content-sync', 'Always'],
      ['log-adapter', 'Always'],
      ['ambassador', 'Always'],
    ]);
  });

  it('only content-sync gets a startup probe as a native sidecar (the others wait for web)', () => {
    for (const dir of ['full-native-sidecars']) {
      const [pod] = (rendered.get(dir) ?? []).filter((o) => o.kind === 'Pod');
      expect(pod?.spec.initContainers.map((c: Container) => [c.name, c.startupProbe?.httpGet])).toEqual([
        ['content-sync', { path: '/readyz', port: 'sync-admin' }],
        ['log-adapter', undefined],
        ['ambassador', undefined],
      ]);
    }
    // The sidecar pod through the component, as a user's kustomization would use it.
    const dir = mkdtempSync(join(tmpdir(), 'multipod-kustomize-'));
    try {
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        `resources:\n  - ${relative(dir, join(manifestsDir, 'sidecar'))}\ncomponents:\n  - ${relative(dir, join(manifestsDir, 'components/native-sidecars'))}\n`,
      );
      const [pod] = render(dir).filter((o) => o.kind === 'Pod');
      expect(pod?.spec.initContainers.map((c: Container) => [c.name, c.startupProbe?.httpGet])).toEqual([
        ['content-sync', { path: '/readyz', port: 'sync-admin' }],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a user kustomization can point every image elsewhere with `images:`', () => {
    const dir = mkdtempSync(join(tmpdir(), 'multipod-kustomize-'));
    try {
      const images = ['web', 'content-sync', 'ambassador', 'log-adapter']
        .map(
          (c) =>
            `  - name: ghcr.io/multipod/multipod-${c}\n    newName: registry.example.com/multipod-${c}\n    newTag: 9.9.9`,
        )
        .join('\n');
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        `resources:\n  - ${relative(dir, join(manifestsDir, 'full'))}\nimages:\n${images}\n`,
      );
      const [pod] = render(dir).filter((o) => o.kind === 'Pod');
      expect(pod?.spec.containers.map((c: Container) => c.image)).toEqual([
        'registry.example.com/multipod-web:9.9.9',
        'registry.example.com/multipod-content-sync:9.9.9',
        'registry.example.com/multipod-ambassador:9.9.9',
        'registry.example.com/multipod-log-adapter:9.9.9',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('adapter-prometheus labels each series with the namespace and pod the dashboards and alerts group by', () => {
    const cm = (rendered.get('adapter-prometheus') ?? []).find(
      (o) => o.metadata.name === 'prometheus-config',
    );
    const config = parse(cm?.data?.['prometheus.yml'] ?? '') as {
      scrape_configs: { relabel_configs: { source_labels?: string[]; target_label?: string }[] }[];
    };
    const targets = config.scrape_configs.flatMap((j) => j.relabel_configs.map((r) => r.target_label));
    expect(targets).toEqual(expect.arrayContaining(['namespace', 'pod']));
  });

  it('the inbound ambassador binds port 80 through the safe sysctl, never as root', () => {
    const [pod] = (rendered.get('ambassador/inbound') ?? []).filter((o) => o.kind === 'Pod');
    expect(pod?.spec.securityContext.sysctls).toEqual([
      { name: 'net.ipv4.ip_unprivileged_port_start', value: '80' },
    ]);
    const amb = pod?.spec.containers.find((c: Container) => c.name === 'ambassador');
    expect(amb.ports).toContainEqual({ name: 'http', containerPort: 80 });
    expect(amb.securityContext.capabilities).toEqual({ drop: ['ALL'] });
  });
});

describe('hardening rules', () => {
  const base = (): K8sObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'x' },
    spec: {
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'a',
          image: 'example/a:1.0',
          securityContext: {
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          },
          resources: { requests: { cpu: '1m', memory: '1Mi' }, limits: { cpu: '1m', memory: '1Mi' } },
          readinessProbe: { exec: { command: ['true'] } },
          livenessProbe: { exec: { command: ['true'] } },
        },
      ],
      volumes: [{ name: 'v', emptyDir: { sizeLimit: '1Mi' } }],
    },
  });

  it('pass a hardened pod', () => {
    expect(hardeningProblems(base())).toEqual([]);
  });

  it.each([
    ['latest tag', (p: K8sObject) => (p.spec.containers[0].image = 'example/a:latest'), 'uses latest'],
    ['no tag', (p: K8sObject) => (p.spec.containers[0].image = 'localhost:5000/a'), 'has no tag'],
    [
      'root filesystem writable',
      (p: K8sObject) => delete p.spec.containers[0].securityContext.readOnlyRootFilesystem,
      'readOnlyRootFilesystem',
    ],
    [
      'capabilities kept',
      (p: K8sObject) => (p.spec.containers[0].securityContext.capabilities = {}),
      'drop lacks ALL',
    ],
    ['may run as root', (p: K8sObject) => delete p.spec.securityContext.runAsNonRoot, 'runAsNonRoot'],
    ['no seccomp', (p: K8sObject) => delete p.spec.securityContext.seccompProfile, 'seccompProfile'],
    ['no limits', (p: K8sObject) => delete p.spec.containers[0].resources.limits, 'resources.limits.cpu'],
    ['no probes', (p: K8sObject) => delete p.spec.containers[0].livenessProbe, 'livenessProbe'],
    ['unbounded emptyDir', (p: K8sObject) => (p.spec.volumes[0].emptyDir = {}), 'sizeLimit'],
    [
      'unsafe sysctl',
      (p: K8sObject) => (p.spec.securityContext.sysctls = [{ name: 'kernel.shm_rmid_forced', value: '1' }]),
      'safe set',
    ],
  ])('fail a pod with %s', (_name, mutate, expected) => {
    const pod = base();
    mutate(pod);
    expect(hardeningProblems(pod).join('\n')).toContain(expected);
  });
});
