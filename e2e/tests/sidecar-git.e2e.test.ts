// Sidecar pattern from a git repository: manifests/sidecar-git as shipped, pointed at a real git
// server (git http-backend) the test runs on this machine. The image, which has no git binary,
// publishes the branch's commit; web serves it; a push is served once POST /sync with the
// Secret's token wakes content-sync (its poll interval is an hour here, so nothing else could).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRepo,
  type GitRepo,
  type GitServer,
  startGitServer,
} from '../../packages/content-sync/src/testing-git.ts';
import { createDriver } from '../src/driver.ts';
import { deploy } from '../src/fixture.ts';
import { manifestsDir } from '../src/render.ts';
import { eventually, get, get200, metricSamples } from '../src/wait.ts';

const TOKEN = 'e2e-trigger-token';
const POD = 'sidecar-git';

/** The site at version n, in the folder the manifest publishes (SYNC_GIT_ROOT=examples/site). */
const site = (n: number) => ({
  'examples/site/index.html': `<!doctype html><title>v${n}</title><p>version ${n}</p>\n`,
  'examples/site/version.txt': `version ${n}\n`,
  'README.md': `not published: outside SYNC_GIT_ROOT (${n})\n`,
});

// The kustomization the test applies: the shipped one, with the repository's URL and the token
// patched in as a user would. Its folder exists now (deploy() needs the path); it is written once
// the git server's port is known, before deploy()'s own beforeAll applies it.
const work = mkdtempSync(join(tmpdir(), 'e2e-sidecar-git-'));
const overlay = join(work, 'overlay');
let repo: GitRepo;
let server: GitServer;

beforeAll(async () => {
  repo = createRepo(join(work, 'repos'));
  repo.commit(site(1), 'version 1');
  server = await startGitServer({ root: join(work, 'repos'), host: '0.0.0.0' });
  const host = (await createDriver()).hostAddress();
  mkdirSync(overlay);
  writeFileSync(
    join(overlay, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${relative(overlay, join(manifestsDir, 'sidecar-git'))}
patches:
  - patch: |-
      apiVersion: v1
      kind: Pod
      metadata: { name: ${POD} }
      spec:
        containers:
          - name: content-sync
            env:
              - { name: SYNC_SOURCE, value: "git+http://${host}:${server.port}/site.git" }
              - { name: SYNC_INTERVAL, value: 1h }
  - patch: |-
      apiVersion: v1
      kind: Secret
      metadata: { name: sidecar-git-trigger }
      stringData: { token: ${TOKEN} }
`,
  );
});
afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('sidecar-git', () => {
  const pod = deploy(overlay);

  it('publishes the branch from the git server, and web serves that commit', async () => {
    const web = pod.current.url(POD, 8080);
    expect(await get200(`${web}/version.txt`)).toBe('version 1\n');
    expect((await get(`${web}/README.md`)).status).toBe(404);
    const head = repo.git('rev-parse', 'HEAD');
    const admin = pod.current.url(POD, 8081);
    expect(await get200(`${admin}/readyz`)).toContain(head);
    const info = metricSamples(await get200(`${admin}/metrics`), 'content_sync_snapshot_info');
    expect([...info.keys()].some((labels) => labels.includes(`commit="${head}"`))).toBe(true);
  });

  it('serves a push once POST /sync carries the token, and refuses the call without it', async () => {
    const web = pod.current.url(POD, 8080);
    const admin = pod.current.url(POD, 8081);
    repo.commit(site(2), 'version 2');
    const refused = await get(`${admin}/sync`, { method: 'POST' });
    expect(refused.status).toBe(401);
    const wrong = await get(`${admin}/sync`, { method: 'POST', headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    // Without a valid call the hour-long interval keeps version 1.
    expect(await get200(`${web}/version.txt`)).toBe('version 1\n');
    const woken = await get(`${admin}/sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(woken.status).toBe(202);
    await eventually(
      async () => {
        const [text, index] = [await get200(`${web}/version.txt`), await get200(`${web}/index.html`)];
        expect(text).toBe('version 2\n');
        expect(index).toContain('version 2');
      },
      { timeoutMs: 30_000, what: 'version 2 served after POST /sync' },
    );
  });
});
