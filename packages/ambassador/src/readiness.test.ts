// /readyz, the two ways a pod needs it: an outbound ambassador (the default, `listening`) stays
// ready while its pool is empty, so the app's pod is not taken out of its own Service for a remote
// outage; an inbound one (`AMBASSADOR_READY_WHEN=upstream`) is 503 while its app fails its active
// health check, so the pod leaves its Service, and ready again once the app is back. One path's
// 503s never flap it.
import { afterEach, describe, expect, it } from 'vitest';
import {
  get,
  type Origin,
  refusedPort,
  startAmbassador,
  startOrigin,
  type TestAmbassador,
  waitFor,
} from './test-helpers.ts';

let amb: TestAmbassador | undefined;
let origin: Origin | undefined;
afterEach(async () => {
  await amb?.stop();
  await origin?.close();
  amb = undefined;
  origin = undefined;
});

const readyz = async (a: TestAmbassador) => get(`http://127.0.0.1:${a.adminPort}/readyz`);
const check = {
  AMBASSADOR_HEALTH_CHECK: '/healthz',
  AMBASSADOR_HEALTH_CHECK_INTERVAL: '50ms',
  AMBASSADOR_HEALTH_CHECK_FALL: '2',
  AMBASSADOR_HEALTH_CHECK_RISE: '2',
};

/** An app whose /healthz passes while `up`, and whose /broken always answers 503. */
async function app(): Promise<Origin & { up: boolean }> {
  const o = await startOrigin((req, res) => {
    if (req.url === '/healthz') res.writeHead(state.up ? 200 : 503).end(state.up ? 'ok' : 'down');
    else if (req.url === '/broken') res.writeHead(503).end('this path is broken');
    else res.end('hello');
  });
  const state = Object.assign(o, { up: true });
  return state;
}

describe('AMBASSADOR_READY_WHEN=listening (the default: outbound)', () => {
  it('is 200 with the empty pool named in the body when no upstream answers', async () => {
    amb = await startAmbassador({
      AMBASSADOR_UPSTREAMS: `http://127.0.0.1:${await refusedPort()}`,
      ...check,
    });
    await waitFor('the upstream marked down', async () =>
      (await readyz(amb!)).body.includes('no healthy upstream'),
    );
    const r = await readyz(amb);
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^ok: no healthy upstream in pool default/);
  });
});

describe('AMBASSADOR_READY_WHEN=upstream (inbound)', () => {
  it('is 503 while the app fails its health check, and 200 again once it passes', async () => {
    const a = await app();
    origin = a;
    amb = await startAmbassador({ AMBASSADOR_UPSTREAMS: a.url, AMBASSADOR_READY_WHEN: 'upstream', ...check });
    await waitFor('ready', async () => (await readyz(amb!)).status === 200);
    a.up = false;
    await waitFor('503 while the app is down', async () => (await readyz(amb!)).status === 503);
    expect((await readyz(amb)).body).toBe('not ok: no upstream passes its health check in pool default\n');
    a.up = true;
    await waitFor('ready again', async () => (await readyz(amb!)).status === 200);
  });

  it('is 503 while nothing listens at the upstream', async () => {
    amb = await startAmbassador({
      AMBASSADOR_UPSTREAMS: `http://127.0.0.1:${await refusedPort()}`,
      AMBASSADOR_READY_WHEN: 'upstream',
      ...check,
    });
    await waitFor('503', async () => (await readyz(amb!)).status === 503);
  });

  it('stays ready through one path’s 503s: ejection never empties the pool', async () => {
    const a = await app();
    origin = a;
    amb = await startAmbassador({
      AMBASSADOR_UPSTREAMS: a.url,
      AMBASSADOR_READY_WHEN: 'upstream',
      AMBASSADOR_EJECT_AFTER: '2',
      ...check,
    });
    await waitFor('ready', async () => (await readyz(amb!)).status === 200);
    for (let i = 0; i < 20; i++) expect((await get(`${amb.url}/broken`)).status).toBe(503);
    expect((await readyz(amb)).status).toBe(200);
    expect((await get(`${amb.url}/`)).body).toBe('hello');
  });

  it('refuses to start without an active health check, naming the setting and the pool', async () => {
    await expect(
      startAmbassador({ AMBASSADOR_UPSTREAMS: 'http://127.0.0.1:8080', AMBASSADOR_READY_WHEN: 'upstream' }),
    ).rejects.toThrow(
      /^invalid setting --ready-when \/ AMBASSADOR_READY_WHEN: "upstream" needs an active health check, and pool default has none/,
    );
  });

  it('refuses a value it does not know', async () => {
    await expect(
      startAmbassador({ AMBASSADOR_UPSTREAMS: 'http://127.0.0.1:8080', AMBASSADOR_READY_WHEN: 'always' }),
    ).rejects.toThrow(/AMBASSADOR_READY_WHEN.*"always".*listening.*upstream/);
  });
});
