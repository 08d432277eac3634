// The guides' "Plain kubectl first" routes, as written: every `kubectl apply -f …` line in those
// sections of docs/*.md is applied here with the same files (as `kubectl apply -f` would), and the
// pods are checked for what the guide says they show. A guide cannot name a file that does not
// work, nor gain an apply line that this suite does not run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Deployment } from '../src/driver.ts';
import { deploy } from '../src/fixture.ts';
import { repoRoot } from '../src/render.ts';
import { eventually, get, get200, metricValue } from '../src/wait.ts';

/** Each guide's plain-kubectl apply lines, as lists of files relative to manifests/. */
function plainRoutes(): { guide: string; files: string[] }[] {
  const found: { guide: string; files: string[] }[] = [];
  const docs = join(repoRoot, 'docs');
  for (const guide of readdirSync(docs).filter((f) => f.endsWith('.md'))) {
    const text = readFileSync(join(docs, guide), 'utf8');
    const start = text.indexOf('\n## Plain kubectl first\n');
    if (start < 0) continue;
    const end = text.indexOf('\n## ', start + 1);
    for (const line of text.slice(start, end < 0 ? undefined : end).split('\n')) {
      if (!line.startsWith('kubectl apply -f ')) continue;
      const files = [...line.matchAll(/-f (\S+)/g)].map((m) => m[1]!.replace(/^manifests\//, ''));
      found.push({ guide, files });
    }
  }
  return found;
}

/** What each route must show, keyed by its files. */
const checks: Record<string, (d: Deployment) => Promise<void>> = {
  'seed-sample/seed-sample.yaml': async (d) => {
    const r = await d.exec('seed-sample', 'busybox-sidecar', ['wget', '-qO-', 'http://127.0.0.1:8080/']);
    expect(r.stdout).toContain('Welcome to nginx');
    expect(await d.logs('seed-sample', 'busybox-sidecar')).toContain('hello kubernetes');
  },
  'shared-volume/shared-volume.yaml': async (d) => {
    const page = async () => (await get200(d.url('shared-volume', 8080))).trim();
    // podman copies the image's own html into a new volume (Kubernetes' emptyDir starts empty), so
    // nginx may be Ready on its stock page for the moment before the writer's first round.
    const first = await eventually(
      async () => {
        const p = await page();
        expect(p).toMatch(/^<h1>Hello from the writer container<\/h1><p>written at \d\d:\d\d:\d\d<\/p>$/);
        return p;
      },
      { timeoutMs: 15_000, what: "the writer's page" },
    );
    const writer = await d.exec('shared-volume', 'writer', ['cat', '/pod-data/index.html']);
    expect(writer.stdout).toContain('Hello from the writer container');
    // The writer keeps it fresh: within two of its 5 s rounds nginx serves a newer page.
    await eventually(async () => expect(await page()).not.toBe(first), {
      timeoutMs: 15_000,
      what: 'a newer page',
    });
  },
  'sidecar/sidecar-content.yaml+sidecar/sidecar.yaml': async (d) => {
    expect(await get200(`${d.url('sidecar', 8080)}/version.txt`)).toBe('version 1\n');
    expect(await d.logs('sidecar', 'content-sync')).toContain('"msg":"published"');
  },
  'streaming-sidecar/streaming-sidecar.yaml': async (d) => {
    // Each file, from its first line, is its sidecar's output; the app itself writes nothing there.
    await eventually(
      async () => {
        expect((await d.logs('streaming-sidecar', 'count-log-1')).split('\n')[0]).toMatch(/^0: \S+Z$/);
        expect((await d.logs('streaming-sidecar', 'count-log-2')).split('\n')[0]).toMatch(/^\S+Z INFO 0$/);
      },
      { timeoutMs: 15_000, what: 'each file streamed by its sidecar' },
    );
    expect((await d.logs('streaming-sidecar', 'count')).trim()).toBe('');
  },
  'adapter/adapter.yaml': async (d) => {
    expect((await get(`${d.url('adapter', 8080)}/nope`)).status).toBe(404);
    await eventually(
      async () =>
        expect(
          metricValue(await get200(`${d.url('adapter', 9113)}/metrics`), 'http_requests_total', {
            code: '404',
          }),
        ).toBe(1),
      { timeoutMs: 15_000, what: 'the 404 counted' },
    );
  },
  'ambassador/inbound/ambassador-inbound.yaml': async (d) => {
    expect(JSON.parse(await get200(`${d.url('ambassador-inbound', 80)}/fruit.json`))).toHaveLength(3);
    expect(await get200(`${d.url('ambassador-inbound', 9901)}/readyz`)).toBe('ok\n');
  },
  'ambassador/tcp/redis.yaml+ambassador/tcp/ambassador-tcp.yaml': async (d) => {
    await eventually(
      async () => {
        const r = await d.exec('ambassador-tcp', 'app', [
          'redis-cli',
          '-h',
          '127.0.0.1',
          '-p',
          '6379',
          'PING',
        ]);
        expect(r.stdout.trim()).toBe('PONG');
      },
      { timeoutMs: 30_000, what: 'PONG through the ambassador' },
    );
  },
};

const routes = plainRoutes();

describe('the guides’ plain-kubectl routes', () => {
  it('every pattern guide has one, and every route has a check here', () => {
    expect(new Set(routes.map((r) => r.guide))).toEqual(
      new Set(['shared-resources.md', 'sidecar.md', 'adapter.md', 'ambassador.md']),
    );
    expect(routes.map((r) => r.files.join('+')).filter((k) => !checks[k])).toEqual([]);
  });
});

for (const { guide, files } of routes) {
  describe(`${guide}: kubectl apply -f ${files.join(' -f ')}`, () => {
    const pods = deploy(files);
    it('comes up Ready and shows what the guide says', async () => {
      await checks[files.join('+')]!(pods.current);
    });
  });
}
