// ArchiveSource alone, against a real local HTTP server: what one fetch does when it is aborted
// mid-unpack (SIGTERM), and when the server answers what HTTP does not allow.
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { closeServer, listen } from '@multipod/service';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArchiveError } from './archive-check.ts';
import { ArchiveSource } from './source-archive.ts';
import { makeTarGz, removeDir, tempDir } from './testing.ts';

let server: Server;
let url: string;
let handler: (req: IncomingMessage, res: ServerResponse) => void;
let root: string;
let workDir: string;

beforeAll(async () => {
  server = createServer((req, res) => handler(req, res));
  url = `http://127.0.0.1:${await listen(server, { port: 0, host: '127.0.0.1', setting: 'test' })}/site.tar.gz`;
});
afterAll(() => closeServer(server));
beforeEach(() => {
  root = tempDir('source-archive');
  workDir = join(root, '.work');
});
afterEach(() => removeDir(root));

const source = () =>
  new ArchiveSource({ url, workDir, timeoutMs: 10_000, maxBytes: 2 ** 30, maxFiles: 1_000_000 });

describe('ArchiveSource.fetch', () => {
  it('stops unpacking as soon as it is aborted, and removes what it unpacked', async () => {
    // 20,000 entries: seconds of unpacking, far longer than the abort takes to land.
    const entries = Array.from({ length: 20 }, (_, d) => [
      { path: `d${d}/`, type: 'Directory' as const },
      ...Array.from({ length: 1000 }, (_, f) => ({ path: `d${d}/f${f}.txt`, body: `${d}/${f}` })),
    ]).flat();
    const body = makeTarGz(entries);
    handler = (_req, res) => res.writeHead(200, { 'content-length': body.length }).end(body);
    const ctl = new AbortController();
    const unpacked = join(workDir, 'unpacked-1');
    const watch = setInterval(() => {
      if (existsSync(join(unpacked, 'd0'))) ctl.abort(new Error('shutting down'));
    }, 1);
    try {
      const fetched = source().fetch(ctl.signal);
      await expect(fetched).rejects.toThrow('shutting down');
    } finally {
      clearInterval(watch);
    }
    expect(ctl.signal.aborted).toBe(true);
    expect(readdirSync(workDir)).toEqual([]);
  }, 60_000);

  it('refuses a 304 to a request that carried no validator: the server is broken', async () => {
    const sent: Array<string | undefined> = [];
    handler = (req, res) => {
      sent.push(req.headers['if-none-match']);
      res.writeHead(304).end();
    };
    const fetched = source().fetch();
    await expect(fetched).rejects.toThrow(ArchiveError);
    await expect(source().fetch()).rejects.toThrow(
      /answered 304 Not Modified to a request without If-None-Match or If-Modified-Since/,
    );
    expect(sent).toEqual([undefined, undefined]);
  });
});
