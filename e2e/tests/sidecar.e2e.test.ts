// Sidecar pattern: web serves what content-sync publishes from a ConfigMap. A changed ConfigMap
// is served within the expected time, and a reader never sees files of two versions mixed.
import { describe, expect, it } from 'vitest';
import { deploy } from '../src/fixture.ts';
import { eventually, get, get200, metricValue } from '../src/wait.ts';

/** The site at version n: three files that all name n, so a mixed snapshot can be detected. */
function site(n: number): Record<string, string> {
  return {
    'index.html': `<!doctype html>\n<html lang="en"><head><title>v${n}</title></head><body><p id="version">version ${n}</p></body></html>\n`,
    'style.css': `/* version ${n} */ body { margin: ${n}px; }\n`,
    'version.txt': `version ${n}\n`,
  };
}

const versionOf = (text: string): number => Number(/version (\d+)/.exec(text)?.[1] ?? Number.NaN);

/** What the pod may add once the new files are in its volume: content-sync's watch, snapshot, swap. */
const POD_LATENCY_MS = 5_000;
/** Tests that wait for ConfigMap propagation (several times on Kubernetes) get more than the default. */
const CONFIGMAP_TEST_TIMEOUT_MS = 900_000;

describe('sidecar', () => {
  const pod = deploy('sidecar');

  it('becomes Ready and web serves the ConfigMap content content-sync published', async () => {
    const web = pod.current.url('sidecar', 8080);
    expect(await get200(`${web}/version.txt`)).toBe('version 1\n');
    expect(await get200(`${web}/`)).toContain('version 1');
    const metrics = await get200(`${pod.current.url('sidecar', 8081)}/metrics`);
    expect(metricValue(metrics, 'content_sync_runs_total', { result: 'published' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(metricValue(metrics, 'content_sync_snapshot_files')).toBe(3);
  });

  it(
    'serves an updated ConfigMap in time, and never a mixed snapshot',
    async () => {
      const web = pod.current.url('sidecar', 8080);
      const mixed: string[] = [];
      const errors: string[] = [];
      let reads = 0;
      let stop = false;
      // A reader that fetches B, A, C, B: when B did not change between its two reads, no swap
      // happened in between, so A and C must be of B's version too.
      const reader = (async () => {
        while (!stop) {
          try {
            const [b1, a, c, b2] = [
              await get(`${web}/version.txt`),
              await get(`${web}/index.html`),
              await get(`${web}/style.css`),
              await get(`${web}/version.txt`),
            ];
            for (const r of [b1, a, c, b2])
              if (r.status !== 200) errors.push(`status ${r.status}: ${r.body.slice(0, 100)}`);
            const vb = versionOf(b1.body);
            if (vb === versionOf(b2.body) && (versionOf(a.body) !== vb || versionOf(c.body) !== vb)) {
              mixed.push(`version.txt=${vb} index.html=${versionOf(a.body)} style.css=${versionOf(c.body)}`);
            }
            reads++;
          } catch (err) {
            errors.push((err as Error).message);
          }
        }
      })();
      try {
        for (const n of [2, 3, 4, 5, 6]) {
          const started = Date.now();
          await pod.current.updateConfigMap('sidecar-content', site(n));
          await eventually(
            async () => {
              expect(versionOf(await get200(`${web}/version.txt`))).toBe(n);
            },
            {
              timeoutMs: pod.current.configMapDelayMs + POD_LATENCY_MS,
              intervalMs: 100,
              what: `version ${n} served`,
            },
          );
          process.stderr.write(
            `sidecar: version ${n} served ${Date.now() - started} ms after the ConfigMap update\n`,
          );
        }
        // A burst: ten versions 100 ms apart, faster than a sync may take. Whatever is served in
        // between must still be whole, and the last one wins.
        for (let n = 10; n < 20; n++) {
          await pod.current.updateConfigMap('sidecar-content', site(n));
          await new Promise((r) => setTimeout(r, 100));
        }
        await eventually(async () => expect(versionOf(await get200(`${web}/version.txt`))).toBe(19), {
          timeoutMs: pod.current.configMapDelayMs + POD_LATENCY_MS,
          intervalMs: 100,
          what: 'the last version of the burst served',
        });
      } finally {
        stop = true;
        await reader;
      }
      expect(reads).toBeGreaterThan(5);
      expect(errors).toEqual([]);
      expect(mixed).toEqual([]);
      expect(await get200(`${web}/style.css`)).toContain('version 19');
    },
    CONFIGMAP_TEST_TIMEOUT_MS,
  );

  it(
    'a file removed from the ConfigMap is gone from the next snapshot',
    async () => {
      const web = pod.current.url('sidecar', 8080);
      const { 'style.css': _dropped, ...rest } = site(20);
      await pod.current.updateConfigMap('sidecar-content', rest);
      await eventually(async () => expect(versionOf(await get200(`${web}/version.txt`))).toBe(20), {
        timeoutMs: pod.current.configMapDelayMs + POD_LATENCY_MS,
        what: 'version 20 served',
      });
      // A file removed from the source is gone from the new snapshot (a 404, not the old bytes).
      expect((await get(`${web}/style.css`)).status).toBe(404);
    },
    CONFIGMAP_TEST_TIMEOUT_MS,
  );
});

describe('sidecar-init', () => {
  const pod = deploy('sidecar-init');

  it('content-sync ran once as an init container, so web is Ready with content from its first request', async () => {
    const web = pod.current.url('sidecar-init', 8080);
    expect(await get200(`${web}/version.txt`)).toBe('version 1\n');
    expect(await get200(`${web}/`)).toContain('version 1');
    // The init container exited 0 and is not restarted.
    expect(await pod.current.restartCount('sidecar-init', 'content-sync')).toBe(0);
  });
});
