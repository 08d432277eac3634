// WebSocket upgrades through the HTTP listener, with the `ws` package on both ends.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { refusedPort, startAmbassador, type TestAmbassador } from '../test-helpers.ts';

let wss: WebSocketServer;
let amb: TestAmbassador;
let seenPath = '';
let seenXff: string | undefined;

beforeAll(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (ws, req) => {
    seenPath = req.url ?? '';
    seenXff = req.headers['x-forwarded-for'] as string | undefined;
    ws.on('message', (data, binary) => ws.send(data, { binary }));
  });
  amb = await startAmbassador({
    AMBASSADOR_UPSTREAMS: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
  });
});
afterAll(async () => {
  await amb.stop();
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => wss.close(r));
});

it('echoes messages through an upgraded connection', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${amb.port}/chat?room=1`);
  await once(ws, 'open');
  const replies: string[] = [];
  ws.on('message', (d) => replies.push(d.toString()));
  for (const m of ['one', 'two', 'three']) ws.send(m);
  const big = Buffer.alloc(256 * 1024, 1);
  ws.send(big);
  await new Promise<void>((resolve) => {
    const check = () => (replies.length === 4 ? resolve() : setTimeout(check, 10));
    check();
  });
  expect(replies.slice(0, 3)).toEqual(['one', 'two', 'three']);
  expect(replies[3]!.length).toBe(big.length);
  expect(seenPath).toBe('/chat?room=1');
  expect(seenXff).toBe('127.0.0.1');
  ws.close();
  await once(ws, 'close');
});

it('answers 502 to an upgrade when the upstream refuses', async () => {
  const bad = await startAmbassador({ AMBASSADOR_UPSTREAMS: `http://127.0.0.1:${await refusedPort()}` });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${bad.port}/`);
    ws.on('error', () => {});
    const [req, res] = (await once(ws, 'unexpected-response')) as [
      { destroy(): void },
      { statusCode: number },
    ];
    expect(res.statusCode).toBe(502);
    req.destroy();
  } finally {
    await bad.stop();
  }
});
