// Swapping `current` under load: every response is one whole file of one snapshot, a request
// that starts after a swap completed sees that snapshot or a newer one, and nothing answers 5xx.
import { rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Web } from './server.ts';
import { Site, startWeb } from './testing.ts';

const site = new Site();
let web: Web;
const FILES = ['index.html', 'app.js', 'big.bin'];

/** Content unique to (snapshot, file); big.bin is over the cache limit, so it is streamed. */
function body(gen: number, file: string): string {
  const head = `gen=${gen} file=${file};`;
  const size = file === 'big.bin' ? 300_000 : file === 'app.js' ? 20_000 : 500;
  return head + '.'.repeat(size - head.length - 1) + '\n';
}

function snapshotFiles(gen: number) {
  return Object.fromEntries(FILES.map((f) => [f, body(gen, f)]));
}

beforeAll(async () => {
  site.publish(snapshotFiles(1), 'g1');
  web = await startWeb({ WEB_ROOT: site.current, WEB_CACHE_MAX_FILE: '100Ki' });
});
afterAll(async () => {
  await web?.stop();
  site.remove();
});

function get(agent: Agent, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: web.port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('snapshot swap under load', () => {
  it('never mixes snapshots, never serves a stale body, never fails', async () => {
    let published = 1; // newest generation whose swap has completed
    let running = true;
    const swapper = (async () => {
      let gen = 1;
      while (running) {
        gen++;
        site.publish(snapshotFiles(gen), `g${gen}`);
        published = gen;
        // Prune like content-sync does, keeping a few generations for requests in flight.
        if (gen > 8) rmSync(join(site.dir, '.snapshots', `g${gen - 8}`), { recursive: true, force: true });
        await new Promise((r) => setTimeout(r, 15));
      }
      return gen;
    })();

    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const problems: string[] = [];
    let responses = 0;
    const deadline = Date.now() + 2500;
    const client = async (n: number) => {
      let i = n;
      while (Date.now() < deadline) {
        const file = FILES[i++ % FILES.length]!;
        const floor = published; // every swap up to this one completed before the request starts
        const r = await get(agent, `/${file}`);
        responses++;
        if (r.status !== 200) {
          problems.push(`${file}: status ${r.status}`);
          continue;
        }
        const gen = Number(/^gen=(\d+) /.exec(r.text)?.[1]);
        if (r.text !== body(gen, file)) problems.push(`${file}: body is not one whole file of gen ${gen}`);
        if (gen < floor) problems.push(`${file}: stale gen ${gen} after gen ${floor} was published`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, n) => client(n)));
    running = false;
    const generations = await swapper;
    agent.destroy();

    expect(problems.slice(0, 10)).toEqual([]);
    expect(responses).toBeGreaterThan(100);
    expect(generations).toBeGreaterThan(10);
  });
});
