// content-sync and web together, as in the pod: a reader hammers web (packages/web/dist/main.js,
// serving TARGET/current resolved per request) while content-sync swaps snapshots underneath.
// Every response body must be the page of exactly one published snapshot: whole, never mixed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Child,
  makeSyncer,
  PKG,
  removeDir,
  runMain,
  type TestSyncer,
  tempDir,
  waitFor,
} from './testing.ts';

const WEB = join(PKG, '../web/dist/main.js');

let root: string;
let src: string;
let target: string;
let sync: TestSyncer;
let web: Child;
let base: string;

/** Version n of the page: 64 KiB, so a torn read would show. */
const page = (n: number) => `<!doctype html><title>v${n}</title>\n${`version ${n} `.repeat(5000)}\n`;

beforeAll(async () => {
  if (!existsSync(WEB))
    execFileSync(process.execPath, ['../../scripts/bundle.ts'], { cwd: join(PKG, '../web') });
  root = tempDir('web');
  src = join(root, 'src');
  target = join(root, 'www');
  mkdirSync(src);
  writeFileSync(join(src, 'index.html'), page(0));
  // A short grace so that replaced snapshots get recycled (updated in place) during the hammering too.
  sync = makeSyncer({ kind: 'dir', path: src }, { target, debounce: 5, pruneGrace: 100 });
  await sync.syncer.prepare();
  await sync.syncer.start();
  web = runMain(
    { WEB_ROOT: join(target, 'current'), WEB_PORT: '0', WEB_HOST: '127.0.0.1', WEB_ACCESS_LOG: 'off' },
    [],
    WEB,
  );
  const port = await waitFor(
    'web to listen',
    () => web.lines.find((l) => l.msg === 'listening')?.port,
    20_000,
  );
  base = `http://127.0.0.1:${port}`;
}, 60_000);

afterAll(async () => {
  web?.kill();
  await sync?.stop();
  removeDir(root);
});

describe('web serving while content-sync swaps', () => {
  it('never serves a torn or mixed page', async () => {
    const bodies = new Map<string, number>();
    let stop = false;
    const reader = async () => {
      while (!stop) {
        const res = await fetch(`${base}/index.html`);
        const body = await res.text();
        expect(res.status).toBe(200);
        bodies.set(body, (bodies.get(body) ?? 0) + 1);
      }
    };
    const readers = Array.from({ length: 4 }, reader);
    const VERSIONS = 25;
    for (let n = 1; n <= VERSIONS; n++) {
      // Written beside and renamed in, as a deploy step would: every source state is whole.
      writeFileSync(join(src, '.index.html.tmp'), page(n));
      renameSync(join(src, '.index.html.tmp'), join(src, 'index.html'));
      await new Promise((r) => setTimeout(r, 40));
    }
    await waitFor(
      'the last version served',
      async () => (await (await fetch(`${base}/index.html`)).text()) === page(VERSIONS),
    );
    stop = true;
    await Promise.all(readers);

    // Every source state was whole (written beside, renamed in), so each snapshot holds exactly one
    // page(n); a body that is not one of them was torn or mixed by a swap, a recycle or a prune.
    const published = new Set(Array.from({ length: VERSIONS + 1 }, (_, n) => page(n)));
    const total = [...bodies.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(100);
    for (const body of bodies.keys()) {
      expect(
        published.has(body),
        `a body of ${body.length} bytes starting ${JSON.stringify(body.slice(0, 40))}`,
      ).toBe(true);
      expect(
        /^<!doctype html><title>v(\d+)<\/title>/.exec(body) && body === page(Number(/v(\d+)/.exec(body)![1])),
      ).toBe(true);
    }
    expect(bodies.size).toBeGreaterThan(3); // the reader really saw swaps happen
    expect(sync.logs.some((l) => l.msg === 'published' && l.recycled === true)).toBe(true);
  }, 60_000);
});
