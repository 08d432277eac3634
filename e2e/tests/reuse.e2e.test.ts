// The reuse components on workloads a cluster already runs. examples/nginx: a plain nginx
// Deployment (the official image's layout: its access log is a link to stdout) to which kustomize
// components add the log-adapter, receiving nginx's access log as syslog over the pod's localhost,
// and an inbound ambassador, the front door. N requests through the ambassador are N in the
// ambassador's count and N in the adapter's, by method and code; the probes and the ambassador's
// health checks, which nginx does not log, are in neither. examples/web: multipod-web as a
// Deployment with the log-adapter component reading its log file from the shared volume: N
// requests are N, and after the adapter is killed its positions file (on the volume the component
// adds) makes the next count exact, none missed and none counted twice.
import { describe, expect, it } from 'vitest';
import type { Deployment } from '../src/driver.ts';
import { deploy } from '../src/fixture.ts';
import { adapterSettled, eventually, get, get200, metricValue } from '../src/wait.ts';

describe('reuse: examples/nginx (nginx Deployment + log-adapter-syslog + ambassador-inbound)', () => {
  const dep = deploy('../examples/nginx');
  const pod = () => {
    const [name] = dep.current.pods;
    if (!name) throw new Error('the Deployment made no pod');
    return name;
  };

  it('one pod of the Deployment, Ready: nginx, the log-adapter and the ambassador', async () => {
    expect(dep.current.pods).toHaveLength(1);
    const front = dep.current.url(pod(), 8000);
    const res = await get(`${front}/`);
    expect(res.status).toBe(200);
    expect(res.body).toContain('nginx');
    // The ambassador is Ready only while nginx passes its check (AMBASSADOR_READY_WHEN=upstream).
    expect(await get200(`${dep.current.url(pod(), 9901)}/readyz`)).toMatch(/^ok/);
    // The adapter receives nginx's lines as syslog and says which format it found in them.
    await eventually(
      async () => expect(await get200(`${dep.current.url(pod(), 9113)}/readyz`)).toMatch(/syslog:nginx/),
      { timeoutMs: 30_000, what: "the adapter's /readyz naming nginx's syslog source" },
    );
  });

  it('N requests through the ambassador: N in ambassador_requests_total, N in http_requests_total', async () => {
    const front = dep.current.url(pod(), 8000);
    const adapterMetrics = `${dep.current.url(pod(), 9113)}/metrics`;
    const ambassadorMetrics = `${dep.current.url(pod(), 9901)}/metrics`;
    const before = await adapterSettled(adapterMetrics);
    const ambBefore = await get200(ambassadorMetrics);
    const nGet = 37;
    const n404 = 19;
    const nHead = 11;
    for (let i = 0; i < nGet; i++) expect((await get(`${front}/`)).status).toBe(200);
    for (let i = 0; i < n404; i++) expect((await get(`${front}/missing-${i}`)).status).toBe(404);
    for (let i = 0; i < nHead; i++) expect((await get(`${front}/`, { method: 'HEAD' })).status).toBe(200);

    const delta = (now: string, then: string, name: string, labels: Record<string, string>) =>
      metricValue(now, name, labels) - metricValue(then, name, labels);
    const after = await eventually(
      async () => {
        const text = await get200(adapterMetrics);
        expect(delta(text, before, 'http_requests_total', { method: 'GET', code: '200' })).toBe(nGet);
        expect(delta(text, before, 'http_requests_total', { method: 'GET', code: '404' })).toBe(n404);
        expect(delta(text, before, 'http_requests_total', { method: 'HEAD', code: '200' })).toBe(nHead);
        return text;
      },
      { timeoutMs: 30_000, what: 'the adapter counted every request nginx logged' },
    );
    // The same requests as the ambassador saw them, on their way in.
    const amb = await get200(ambassadorMetrics);
    expect(delta(amb, ambBefore, 'ambassador_requests_total', { code: '200' })).toBe(nGet + nHead);
    expect(delta(amb, ambBefore, 'ambassador_requests_total', { code: '404' })).toBe(n404);
    // Every line parsed, none lost on the way (UDP drops would be counted here).
    const lines = (t: string, result: string) => metricValue(t, 'log_adapter_lines_total', { result });
    expect(lines(after, 'parsed') - lines(before, 'parsed')).toBe(nGet + n404 + nHead);
    expect(metricValue(after, 'log_adapter_syslog_drops_total')).toBe(0);
    // nginx's format carries $request_time: the latency histogram fills too.
    expect(delta(after, before, 'http_request_duration_seconds_count', { method: 'GET', code: '200' })).toBe(
      nGet,
    );
    // Still exactly N a moment later: the ambassador's health checks and the probes are not traffic.
    await new Promise((r) => setTimeout(r, 6_000));
    const again = await get200(adapterMetrics);
    expect(delta(again, before, 'http_requests_total', {})).toBe(nGet + n404 + nHead);
  });
});

describe('reuse: examples/web (web Deployment + log-adapter on a shared volume)', () => {
  const dep = deploy('../examples/web');
  const pod = () => {
    const [name] = dep.current.pods;
    if (!name) throw new Error('the Deployment made no pod');
    return name;
  };
  const count404 = async (d: Deployment) =>
    metricValue(await get200(`${d.url(pod(), 9113)}/metrics`), 'http_requests_total', {
      method: 'GET',
      code: '404',
    });
  async function missing(n: number, tag: string): Promise<void> {
    for (let i = 0; i < n; i++)
      expect((await get(`${dep.current.url(pod(), 8080)}/missing-${tag}-${i}`)).status).toBe(404);
  }

  it('N requests to web: N in the adapter reading its log from the component’s volume', async () => {
    expect(await get200(`${dep.current.url(pod(), 8080)}/`)).toContain('Every request here');
    const before = await adapterSettled(`${dep.current.url(pod(), 9113)}/metrics`);
    await missing(29, 'a');
    await eventually(
      async () =>
        expect(
          (await count404(dep.current)) -
            metricValue(before, 'http_requests_total', { method: 'GET', code: '404' }),
        ).toBe(29),
      { timeoutMs: 30_000, what: 'the adapter counted 29 404s' },
    );
    expect(await get200(`${dep.current.url(pod(), 9113)}/readyz`)).toContain('/var/log/app/access.log');
  });

  it('the adapter killed: requests logged while it is down are counted once it is back (positions file)', async () => {
    // Past one positions interval (5 s) with nothing new: the file on the state volume is current.
    await adapterSettled(`${dep.current.url(pod(), 9113)}/metrics`);
    await new Promise((r) => setTimeout(r, 6_000));
    const restarts = await dep.current.restartCount(pod(), 'log-adapter');
    await dep.current.killContainer(pod(), 'log-adapter');
    // Written while no adapter runs: one that started at the end of the log would never see them.
    await missing(13, 'b');
    await eventually(
      async () => expect(await dep.current.restartCount(pod(), 'log-adapter')).toBeGreaterThan(restarts),
      { timeoutMs: 60_000, what: 'log-adapter restarted' },
    );
    await dep.current.waitReady(pod(), 90_000);
    // A new process counts from zero, resuming where the last one stopped: exactly the 13 new lines.
    await eventually(async () => expect(await count404(dep.current)).toBe(13), {
      timeoutMs: 30_000,
      what: 'the restarted adapter counted exactly the 13 404s written while it was down',
    });
    await missing(5, 'c');
    await eventually(async () => expect(await count404(dep.current)).toBe(18), {
      timeoutMs: 30_000,
      what: 'and the next 5',
    });
  });
});
