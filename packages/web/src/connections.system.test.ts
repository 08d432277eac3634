// An idle keep-alive connection kept for the whole keep-alive timeout, seconds of waiting on real
// timers, so in the system suite (`pnpm test:system`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Web } from './server.ts';
import { Site, Sockets, startWeb, until } from './testing.ts';

const site = new Site();
const sockets = new Sockets();
let web: Web;

beforeAll(async () => {
  site.publish({ 'index.html': 'home' });
  web = await startWeb({ WEB_ROOT: site.current, WEB_IDLE_TIMEOUT: '200ms', WEB_KEEP_ALIVE_TIMEOUT: '3s' });
});
afterAll(async () => {
  sockets.closeAll();
  await web?.stop();
  site.remove();
});

describe('timeouts', () => {
  it('keeps an idle keep-alive connection for the keep-alive timeout, then closes it', async () => {
    const s = await sockets.open(web.port);
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
    });
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => got.includes('home'), 5000, 'response');
    expect(got).toMatch(/keep-alive: timeout=3/i);
    await new Promise((r) => setTimeout(r, 800)); // well past the idle timeout, well before keep-alive's
    expect(Sockets.closed(s)).toBe(false);
    await until(() => Sockets.closed(s), 8000, 'keep-alive close');
  });
});
