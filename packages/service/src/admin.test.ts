import type { Server } from 'node:http';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminServer } from './admin.ts';
import { Health } from './health.ts';
import { closeServer, listen } from './listen.ts';

describe('admin server', () => {
  const registry = new Registry();
  const hits = new Counter({
    name: 'fixture_hits_total',
    help: 'Hits.',
    labelNames: ['code'],
    registers: [registry],
  });
  let ready = false;
  const health = new Health({
    ready: () => (ready ? { ok: true } : { ok: false, reason: 'no content yet' }),
  });
  const server: Server = createAdminServer({
    health,
    registry,
    routes: [
      (req, res) => {
        if (req.url !== '/status') return false;
        res.end('status');
        return true;
      },
    ],
  });
  let base = '';

  beforeAll(async () => {
    const port = await listen(server, { port: 0, host: '127.0.0.1', setting: '--admin-port' });
    base = `http://127.0.0.1:${port}`;
    hits.inc({ code: '200' }, 3);
  });
  afterAll(() => closeServer(server));

  it('answers /healthz 200 while alive', async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('answers /readyz 503 with the reason, then 200 once ready, then 503 while draining', async () => {
    let res = await fetch(`${base}/readyz`);
    expect([res.status, await res.text()]).toEqual([503, 'not ok: no content yet\n']);
    ready = true;
    res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    const drainingHealth = new Health({ ready: () => ({ ok: true }) });
    drainingHealth.drain();
    expect(await drainingHealth.ready()).toEqual({ ok: false, reason: 'shutting down' });
  });

  it('serves the passed registry as Prometheus text', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toContain('fixture_hits_total{code="200"} 3');
  });

  it('serves OpenMetrics when the scraper asks for it', async () => {
    const res = await fetch(`${base}/metrics`, {
      headers: { accept: 'application/openmetrics-text; version=1.0.0' },
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
    const body = await res.text();
    expect(body).toContain('fixture_hits_total{code="200"} 3');
    expect(body).toContain('# TYPE fixture_hits counter');
    expect(body.trimEnd().endsWith('# EOF')).toBe(true);
  });

  it('keeps counter names intact in the text format after an OpenMetrics scrape', async () => {
    await fetch(`${base}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('# TYPE fixture_hits_total counter');
    expect(text).toContain('fixture_hits_total{code="200"} 3');
  });

  it('routes extra paths and 404s the rest', async () => {
    expect(await (await fetch(`${base}/status`)).text()).toBe('status');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('names the setting when the port is taken', async () => {
    const other = createAdminServer({ health, registry });
    const port = Number(new URL(base).port);
    await expect(
      listen(other, { port, host: '127.0.0.1', setting: '--admin-port / X_ADMIN_PORT' }),
    ).rejects.toThrow(
      `port 127.0.0.1:${port} (--admin-port / X_ADMIN_PORT) is already in use; choose another with --admin-port / X_ADMIN_PORT`,
    );
  });
});
