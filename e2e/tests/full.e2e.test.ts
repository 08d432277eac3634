// The full pod: web + content-sync + ambassador + log-adapter, all at once. Then containers are
// killed one by one (SIGKILL, as a crash) and the pod recovers with no content or metric lost.
import { describe, expect, it } from 'vitest';
import type { Deployment } from '../src/driver.ts';
import { deploy } from '../src/fixture.ts';
import { eventually, get, get200, metricValue } from '../src/wait.ts';

const POD = 'full';
/** On Kubernetes the kubelet takes up to about a minute to update a ConfigMap volume. */
const CONFIGMAP_TEST_TIMEOUT_MS = 400_000;
const versionOf = (text: string): number => Number(/version (\d+)/.exec(text)?.[1] ?? Number.NaN);

function site(n: number): Record<string, string> {
  return {
    'index.html': `<!doctype html>\n<html lang="en"><head><title>v${n}</title></head><body><p id="version">version ${n}</p></body></html>\n`,
    'style.css': `/* version ${n} */\n`,
    'version.txt': `version ${n}\n`,
  };
}

/** 404s through the ambassador: a request no probe makes, so its count is exact. */
async function missing(base: string, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await get(`${base}/missing-${tag}-${i}`);
    if (r.status !== 404) throw new Error(`GET /missing-${tag}-${i} -> ${r.status}: ${r.body.slice(0, 100)}`);
  }
}

async function count404(dep: Deployment): Promise<number> {
  return metricValue(await get200(`${dep.url(POD, 9113)}/metrics`), 'http_requests_total', {
    method: 'GET',
    code: '404',
  });
}

async function killAndRecover(dep: Deployment, container: string): Promise<void> {
  const before = await dep.restartCount(POD, container);
  await dep.killContainer(POD, container);
  await eventually(async () => expect(await dep.restartCount(POD, container)).toBeGreaterThan(before), {
    timeoutMs: 60_000,
    what: `${container} restarted`,
  });
  await dep.waitReady(POD, 90_000);
}

describe('full', () => {
  const pod = deploy('full');
  let sent404 = 0;

  it('all four containers Ready; content through the ambassador, counted by the adapter', async () => {
    const front = pod.current.url(POD, 8000);
    expect(versionOf(await get200(`${front}/version.txt`))).toBe(1);
    const res = await get(`${front}/`);
    expect(res.status).toBe(200);
    expect(res.body).toContain('One pod, three patterns');
    await missing(front, 10, 'a');
    sent404 += 10;
    await eventually(async () => expect(await count404(pod.current)).toBe(sent404), {
      timeoutMs: 30_000,
      what: 'adapter counted 10 404s',
    });
    for (const port of [8081, 9901, 9113])
      expect((await get(`${pod.current.url(POD, port)}/readyz`)).status).toBe(200);
  });

  it(
    'a ConfigMap change reaches clients through the ambassador',
    async () => {
      const front = pod.current.url(POD, 8000);
      await pod.current.updateConfigMap('full-content', site(2));
      await eventually(async () => expect(versionOf(await get200(`${front}/version.txt`))).toBe(2), {
        timeoutMs: pod.current.configMapDelayMs + 5_000,
        intervalMs: 200,
        what: 'version 2 through the ambassador',
      });
    },
    CONFIGMAP_TEST_TIMEOUT_MS,
  );

  it('web killed: it restarts, serves the same snapshot, and the count carries on', async () => {
    const front = pod.current.url(POD, 8000);
    await killAndRecover(pod.current, 'web');
    await eventually(async () => expect(versionOf(await get200(`${front}/version.txt`))).toBe(2), {
      timeoutMs: 30_000,
      what: 'content after web restart',
    });
    await missing(front, 7, 'b');
    sent404 += 7;
    await eventually(async () => expect(await count404(pod.current)).toBe(sent404), {
      timeoutMs: 30_000,
      what: 'count after web restart',
    });
  });

  it(
    'content-sync killed: content stays served, and later changes still arrive',
    async () => {
      const front = pod.current.url(POD, 8000);
      await killAndRecover(pod.current, 'content-sync');
      expect(versionOf(await get200(`${front}/version.txt`))).toBe(2);
      await pod.current.updateConfigMap('full-content', site(3));
      await eventually(async () => expect(versionOf(await get200(`${front}/version.txt`))).toBe(3), {
        timeoutMs: pod.current.configMapDelayMs + 5_000,
        intervalMs: 200,
        what: 'version 3 after content-sync restart',
      });
    },
    CONFIGMAP_TEST_TIMEOUT_MS,
  );

  it('log-adapter killed: after its restart the totals are whole again (no metric lost)', async () => {
    const front = pod.current.url(POD, 8000);
    await killAndRecover(pod.current, 'log-adapter');
    await missing(front, 5, 'c');
    sent404 += 5;
    await eventually(async () => expect(await count404(pod.current)).toBe(sent404), {
      timeoutMs: 30_000,
      what: 'totals after log-adapter restart',
    });
  });

  it('ambassador killed: the front door comes back and serves the current content', async () => {
    const front = pod.current.url(POD, 8000);
    await killAndRecover(pod.current, 'ambassador');
    await eventually(async () => expect(versionOf(await get200(`${front}/version.txt`))).toBe(3), {
      timeoutMs: 30_000,
      what: 'content through the restarted ambassador',
    });
    await missing(front, 3, 'd');
    sent404 += 3;
    await eventually(async () => expect(await count404(pod.current)).toBe(sent404), {
      timeoutMs: 30_000,
      what: 'count after ambassador restart',
    });
  });

  it('deleted: every container gets SIGTERM as PID 1 and exits 0, well within the grace period', async () => {
    const { exitCodes, ms } = await pod.current.stopPod(POD, 30);
    expect(exitCodes).toEqual({ web: 0, 'content-sync': 0, ambassador: 0, 'log-adapter': 0 });
    // Each drains and exits on its own (default *_SHUTDOWN_TIMEOUT 10 s); nobody waits for SIGKILL.
    expect(ms).toBeLessThan(15_000);
  });
});
