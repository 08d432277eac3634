// 1 GiB streamed each way through the process (dist/main.js, built by `pnpm test:system`), with its
// memory (peak RSS) read from /proc: seconds of loopback traffic, so in the system suite.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Origin, startOrigin } from './test-helpers.ts';

/** The ambassador in front of `upstream`, once its listening line has named its port. */
async function startAmbassador(upstream: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, '../dist/main.js')], {
    env: {
      PATH: process.env.PATH,
      AMBASSADOR_HOST: '127.0.0.1',
      AMBASSADOR_LISTEN: '0',
      AMBASSADOR_ADMIN_PORT: '0',
      AMBASSADOR_UPSTREAMS: upstream,
      AMBASSADOR_ACCESS_LOG: 'false',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for await (const text of createInterface({ input: child.stdout! })) {
    const line = JSON.parse(text) as { msg: string; listeners?: string[] };
    if (line.msg !== 'ambassador listening') continue;
    child.stdout!.resume();
    return { child, port: Number(/:(\d+)$/.exec(line.listeners![0]!)![1]) };
  }
  throw new Error('the ambassador exited before it listened');
}

describe('streaming', () => {
  const SIZE = 1024 ** 3; // 1 GiB each way
  const CHUNK = Buffer.alloc(1024 * 1024, 0x61);
  let origin: Origin;
  beforeAll(async () => {
    origin = await startOrigin((req, res) => {
      if (req.method === 'POST') {
        let n = 0;
        req.on('data', (c: Buffer) => (n += c.length));
        req.on('end', () => res.end(String(n)));
        return;
      }
      res.writeHead(200, { 'content-length': SIZE });
      let sent = 0;
      const pump = () => {
        while (sent < SIZE) {
          sent += CHUNK.length;
          if (!res.write(CHUNK)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
  });
  afterAll(() => origin.close());

  const peakRss = (pid: number) =>
    Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

  it('streams 1 GiB down and 1 GiB up with bounded memory', async () => {
    const amb = await startAmbassador(origin.url);
    const down = await new Promise<number>((resolve, reject) => {
      request(`http://127.0.0.1:${amb.port}/big`, { agent: false }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => resolve(n));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    expect(down).toBe(SIZE);
    const up = await new Promise<string>((resolve, reject) => {
      const req = request(
        `http://127.0.0.1:${amb.port}/upload`,
        { method: 'POST', agent: false, headers: { 'content-length': SIZE } },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve(body));
        },
      );
      req.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < SIZE) {
          sent += CHUNK.length;
          if (!req.write(CHUNK)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(Number(up)).toBe(SIZE);
    const rss = peakRss(amb.child.pid!);
    // Measured here: ~75 MB at start, ~170 MB peak after 1 GiB each way, ~195 MB after 2 GiB (V8
    // frees the 64 KiB chunks lazily). A proxy that buffered a body would need more than 1 GiB.
    expect(rss).toBeLessThan(256 * 1024 * 1024);
    amb.child.kill('SIGTERM');
    await once(amb.child, 'exit');
  }, 120_000);
});
