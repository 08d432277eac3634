// The git source against servers that are not git servers (no git binary needed): a request that
// hangs is cut short by shutdown or by SYNC_HTTP_TIMEOUT, and a plain web server is named as such.
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { closeServer, listen } from '@multipod/service';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeSyncer, removeDir, snapshotIds, type TestSyncer, tempDir } from './testing.ts';

let root: string;
let running: TestSyncer | undefined;
const servers: Server[] = [];

beforeAll(() => {
  root = tempDir('git-fast');
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
});
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await closeServer(s);
  }
  removeDir(root);
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  return `http://127.0.0.1:${await listen(s, { port: 0, host: '127.0.0.1', setting: 'test' })}/site.git`;
}

const syncer = (url: string, target: string, httpTimeout = 5_000) => {
  running = makeSyncer({ kind: 'git', url, ref: undefined, depth: 1, root: '' }, { target, httpTimeout });
  return running;
};

describe('git source, servers that misbehave', () => {
  it('stop() cuts a request that hangs short, and nothing is published', async () => {
    let asked = 0;
    const url = await serve(() => {
      asked++; // takes the request, never answers
    });
    const target = join(root, 'hang');
    const t = syncer(url, target);
    await t.syncer.prepare();
    const first = t.syncer.syncNow();
    while (asked === 0) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await t.stop();
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect((await first).result).toBe('error');
    expect(snapshotIds(target)).toEqual([]);
  });

  it('SYNC_HTTP_TIMEOUT bounds a request that hangs, with the setting named', async () => {
    const url = await serve(() => undefined);
    const t = syncer(url, join(root, 'timeout'), 300);
    await t.syncer.prepare();
    const outcome = await t.syncer.syncNow();
    expect(outcome.error).toMatch(/no answer within 300ms \(--http-timeout \/ SYNC_HTTP_TIMEOUT\)/);
  });

  it('a web server that is not a git server is named as such', async () => {
    const url = await serve((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>hi</h1>'),
    );
    const t = syncer(url, join(root, 'html'));
    await t.syncer.prepare();
    const outcome = await t.syncer.syncNow();
    expect(outcome.error).toMatch(/is not a smart-HTTP git server/);
  });
});
