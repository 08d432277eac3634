// The kind driver's own logic without a cluster: kubectl, docker and kind are stand-ins
// (testdata/standin.mjs) that print what the real tools print and misbehave as they do. What a
// real cluster does is the e2e suite's job (E2E_DRIVER=kind pnpm e2e, on GitHub's runners).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  criTime,
  KindDeployment,
  KindDriver,
  namespacedKustomization,
  saveArgs,
  stopPhases,
  waitForDefaultServiceAccount,
} from './kind.ts';
import { type K8sObject, parseObjects, render, renderYaml } from './render.ts';

const STANDIN = join(import.meta.dirname, '../testdata/standin.mjs');
let bin: string;
let state: string;
let originalPath: string | undefined;
const tools = () => ({
  kubectl: join(bin, 'kubectl'),
  docker: join(bin, 'docker'),
  kind: join(bin, 'kind'),
});

interface StandinConfig {
  pod?: string;
  serviceAccountDelayMs?: number;
  dieAfterRequests?: number;
  stderrNoiseBytes?: number;
  containers?: { id: string; name: string }[];
  selectorPods?: Record<string, string[]>;
  phases?: string[][];
  dockerVersion?: string;
}
const configure = (c: StandinConfig) => {
  const realKubectl = (() => {
    try {
      return execFileSync('sh', ['-c', 'command -v kubectl'], {
        encoding: 'utf8',
        env: { ...process.env, PATH: originalPath },
      }).trim();
    } catch {
      return '';
    }
  })();
  writeFileSync(
    join(state, 'config.json'),
    JSON.stringify({ serviceAccountDelayMs: 0, dockerVersion: '1.52 linux amd64', realKubectl, ...c }),
  );
};
const calls = () => readFileSync(join(state, 'calls.log'), 'utf8').trim().split('\n');

beforeAll(() => {
  bin = mkdtempSync(join(tmpdir(), 'kind-standins-'));
  for (const tool of ['kubectl', 'docker', 'kind']) {
    const path = join(bin, tool);
    writeFileSync(path, `#!/bin/sh\nexec "${process.execPath}" "${STANDIN}" ${tool} "$@"\n`);
    chmodSync(path, 0o755);
  }
  // First on PATH as well: what the driver runs by name goes to the stand-ins too.
  originalPath = process.env.PATH;
  process.env.PATH = `${bin}${delimiter}${originalPath}`;
});
afterAll(() => {
  process.env.PATH = originalPath;
  rmSync(bin, { recursive: true, force: true });
});
beforeEach(() => {
  state = mkdtempSync(join(tmpdir(), 'kind-standin-state-'));
  process.env.STANDIN_DIR = state;
  configure({});
  return () => rmSync(state, { recursive: true, force: true });
});

const pod = (name: string, spec: object): K8sObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec,
});

describe('port-forward supervision', () => {
  it('a kubectl that loses its pod and dies is started again by one owner, on the same local ports', async () => {
    configure({ dieAfterRequests: 2 });
    const dep = new KindDeployment('e2e-pf', [pod('web', { containers: [] })], tools());
    try {
      await dep.forward('web', [8080, 8081]);
      const url = dep.url('web', 8080);
      const admin = dep.url('web', 8081);
      expect(await (await fetch(`${url}/`)).text()).toBe('forwarded 8080 by start 1');
      expect(await (await fetch(`${admin}/`)).text()).toBe('forwarded 8081 by start 1');
      // The second request made the stand-in lose its pod: "error: lost connection to pod".
      await new Promise((r) => setTimeout(r, 200));
      await dep.waitReady('web', 30_000);
      // Same URLs, answered by the restarted kubectl.
      expect(dep.url('web', 8080)).toBe(url);
      expect(await (await fetch(`${url}/`)).text()).toBe('forwarded 8080 by start 2');
      expect(await (await fetch(`${admin}/`)).text()).toBe('forwarded 8081 by start 2');
      const forwards = calls().filter((c) => c.includes(' port-forward '));
      expect(forwards).toHaveLength(2); // one restart, by one owner: not one more from waitReady
      const [local, localAdmin] = [new URL(url).port, new URL(admin).port];
      expect(forwards[1]).toContain(`pod/web ${local}:8080 ${localAdmin}:8081`);
      // Its last words are in the failure dump.
      const dump = await dep.dump();
      expect(dump).toContain('error: lost connection to pod');
      expect(dump).toContain('Handling connection for 8080');
    } finally {
      await dep.down();
    }
  });

  it('reads kubectl’s stderr as it comes: its errors reach the failure dump, and only the last lines are kept', async () => {
    configure({ stderrNoiseBytes: 1024 * 1024 });
    const dep = new KindDeployment('e2e-noisy', [pod('web', { containers: [] })], tools());
    try {
      await dep.forward('web', [8080]);
      expect(await (await fetch(`${dep.url('web', 8080)}/`)).text()).toBe('forwarded 8080 by start 1');
      const dump = await dep.dump();
      expect(dump).toContain('portforward.go:413');
      expect(dump.length).toBeLessThan(64 * 1024);
    } finally {
      await dep.down();
    }
  });
});

describe('namespace', () => {
  it('waits for the namespace’s default ServiceAccount before applying', async () => {
    configure({ serviceAccountDelayMs: 1500, pod: 'sidecar' });
    const driver = new KindDriver(tools());
    const dep = await driver.apply('sidecar');
    try {
      const log = calls();
      const created = log.findIndex((c) => c.startsWith('kubectl create namespace'));
      const applied = log.findIndex((c) => /^kubectl (-n \S+ )?apply -k /.test(c));
      const polls = log.filter((c) => c.includes('get serviceaccount default'));
      expect(created).toBeGreaterThanOrEqual(0);
      expect(applied).toBeGreaterThan(created);
      expect(polls.length).toBeGreaterThan(1); // refused at first, as a fresh namespace does
      expect(log.findIndex((c) => c.includes('get serviceaccount default'))).toBeLessThan(applied);
      expect(dep.url('sidecar', 8080)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await dep.down();
    }
  });

  it('finds a Deployment’s pod by its selector after the rollout, and forwards its ports', async () => {
    configure({ pod: 'nginx', selectorPods: { 'app.kubernetes.io/name=nginx': ['nginx-7d4b9c-x2x8q'] } });
    const driver = new KindDriver(tools());
    const dep = await driver.apply('../examples/nginx');
    try {
      expect(dep.pods).toEqual(['nginx-7d4b9c-x2x8q']);
      const log = calls();
      const applied = log.findIndex((c) => /^kubectl (-n \S+ )?apply -k /.test(c));
      const rollout = log.findIndex((c) => / rollout status deployment\/nginx /.test(c));
      const listed = log.findIndex((c) => c.includes(' get pods -l app.kubernetes.io/name=nginx '));
      expect(applied).toBeGreaterThanOrEqual(0);
      expect(rollout).toBeGreaterThan(applied);
      expect(listed).toBeGreaterThan(rollout);
      // Every port the pod declares, the helpers' included, as for a Pod.
      const forward = log.find((c) => c.includes(' port-forward pod/nginx-7d4b9c-x2x8q '));
      for (const port of [8000, 9901, 9113, 8080]) expect(forward).toMatch(new RegExp(`:${port}( |$)`));
      expect(dep.url('nginx-7d4b9c-x2x8q', 8000)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // The kustomization applied names the example by a path kustomize accepts (relative).
      const applied_ = readFileSync(join(state, 'applied-kustomization.yaml'), 'utf8');
      expect(applied_).toMatch(/^ {2}- (\.\.\/)+.*examples\/nginx$/m);
    } finally {
      await dep.down();
    }
  });

  it('gives up on a ServiceAccount that never comes, naming it', async () => {
    configure({ serviceAccountDelayMs: 60_000 });
    execFileSync(tools().kubectl, ['create', 'namespace', 'e2e-never'], { env: process.env });
    await expect(waitForDefaultServiceAccount(tools().kubectl, 'e2e-never', 1_000)).rejects.toThrow(
      /ServiceAccount default in namespace e2e-never not met within 1000 ms: .*serviceaccounts "default" not found/,
    );
  });

  it('applies into the namespace with kustomize, so RoleBinding subjects follow (adapter-prometheus)', () => {
    const k = namespacedKustomization('adapter-prometheus', 'e2e-prom-1');
    try {
      const objects = parseObjects(renderYaml(k.path));
      expect(objects.every((o) => o.metadata.namespace === 'e2e-prom-1')).toBe(true);
      const binding = objects.find((o) => o.kind === 'RoleBinding');
      expect(binding?.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'prometheus', namespace: 'e2e-prom-1' },
      ]);
      expect(render('adapter-prometheus').find((o) => o.kind === 'RoleBinding')?.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'prometheus', namespace: 'default' }, // what `apply -n` would keep
      ]);
    } finally {
      k.remove();
    }
    expect(existsSync(k.path)).toBe(false);
  });
});

describe('stopping a pod as the kubelet does', () => {
  const full = {
    containers: [{ name: 'web' }, { name: 'content-sync' }, { name: 'ambassador' }, { name: 'log-adapter' }],
  };
  const native = {
    containers: [{ name: 'web' }],
    initContainers: [
      { name: 'content-sync', restartPolicy: 'Always' },
      { name: 'ambassador', restartPolicy: 'Always' },
      { name: 'log-adapter', restartPolicy: 'Always' },
    ],
  };
  const ids = (names: string[]) => names.map((name, i) => ({ id: `c${i}${name.replace(/\W/g, '')}`, name }));

  it('plans regular containers at once, then native sidecars one by one in reverse start order', () => {
    expect(stopPhases(full)).toEqual([['web', 'content-sync', 'ambassador', 'log-adapter']]);
    expect(stopPhases(native)).toEqual([['web'], ['log-adapter'], ['ambassador'], ['content-sync']]);
  });

  it('stops regular containers side by side, not one after another', async () => {
    const containers = ids(full.containers.map((c) => c.name));
    configure({ containers, phases: [containers.map((c) => c.id)] });
    const dep = new KindDeployment('e2e-stop', [pod('full', full)], tools());
    const { exitCodes } = await dep.stopPod('full', 30);
    expect(exitCodes).toEqual({ web: 0, 'content-sync': 0, ambassador: 0, 'log-adapter': 0 });
  });

  it('with native sidecars: web first, then the sidecars in reverse start order, each after the last', async () => {
    const containers = ids(['web', 'content-sync', 'ambassador', 'log-adapter']);
    const id = (name: string) => containers.find((c) => c.name === name)!.id;
    configure({ containers, phases: stopPhases(native).map((p) => p.map(id)) });
    const dep = new KindDeployment('e2e-stop-native', [pod('full', native)], tools());
    const { exitCodes, order } = await dep.stopPod('full', 30);
    expect(exitCodes).toEqual({ web: 0, 'content-sync': 0, ambassador: 0, 'log-adapter': 0 });
    expect(order).toEqual(['web', 'log-adapter', 'ambassador', 'content-sync']);
  });

  it('reads CRI times as crictl prints them', () => {
    expect(criTime('2026-11-30T05:52:40.123456789Z')).toBe(Date.parse('2026-11-30T05:52:40.123Z'));
    expect(criTime('1764481960123456789')).toBeCloseTo(1764481960123.4568, 3);
  });
});

describe('loading images', () => {
  it('saves one platform where the daemon can (Docker 29’s containerd store), else everything', () => {
    expect(saveArgs('t:1', '/x.tar', { apiVersion: '1.52', os: 'linux', arch: 'amd64' })).toEqual([
      'image',
      'save',
      '--platform',
      'linux/amd64',
      '-o',
      '/x.tar',
      't:1',
    ]);
    expect(saveArgs('t:1', '/x.tar', { apiVersion: '1.47', os: 'linux', arch: 'arm64' })).toEqual([
      'image',
      'save',
      '-o',
      '/x.tar',
      't:1',
    ]);
  });

  it('builds each image, saves it as a single-platform archive and loads that archive into kind', async () => {
    configure({ dockerVersion: '1.52 linux arm64' });
    await new KindDriver(tools()).prepare();
    const log = calls();
    for (const c of ['web', 'content-sync', 'ambassador', 'log-adapter']) {
      const save = log.findIndex(
        (l) => l.startsWith('docker image save --platform linux/arm64 -o ') && l.includes(`multipod-${c}:`),
      );
      const load = log.findIndex((l) => l.startsWith('kind load image-archive ') && l.includes(`${c}.tar`));
      expect(save, c).toBeGreaterThan(
        log.findIndex((l) => l.startsWith('docker build ') && l.includes(`COMPONENT=${c}`)),
      );
      expect(load, c).toBeGreaterThan(save);
    }
    expect(log.some((l) => l.startsWith('kind load docker-image'))).toBe(false);
  });
});
