import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDIT_FILE, removeEdit, sendTraffic, TRAFFIC_PATHS, writeEdit } from './actions.ts';
import { LogBuffer } from './log-buffer.ts';

describe('sendTraffic', () => {
  let server: Server;
  let url: string;
  const seen: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(req.url === '/no-such-page' ? 404 : 200).end('x');
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const addr = server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('sends exactly N requests over the sample paths and counts them by status', async () => {
    const r = await sendTraffic(url, 10);
    expect(r.sent).toBe(10);
    expect(r.byStatus).toEqual({ '200': 8, '404': 2 });
    expect(seen).toHaveLength(10);
    expect(new Set(seen)).toEqual(new Set(TRAFFIC_PATHS));
  });

  it('counts refused connections as errors instead of failing', async () => {
    const closed = await new Promise<string>((ok) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => ok(`http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/`));
      });
    });
    expect((await sendTraffic(closed, 3)).byStatus).toEqual({ error: 3 });
  });
});

describe('writeEdit / removeEdit', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'demo-edit-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes one clearly marked file, and removes only that one', async () => {
    const r = await writeEdit(dir, new Date('2026-11-25T12:00:00Z'));
    expect(r).toEqual({ file: join(dir, EDIT_FILE), path: `/${EDIT_FILE}` });
    const html = await readFile(r.file, 'utf8');
    expect(html).toContain('Written by the multipod demo');
    expect(html).toContain('<h1 id="headline">Edited at 2026-11-25T12:00:00.000Z</h1>');
    await removeEdit(dir);
    expect(existsSync(r.file)).toBe(false);
    await removeEdit(dir); // nothing there: no error
  });
});

describe('LogBuffer', () => {
  it('keeps the last lines of each container apart, up to its limit', () => {
    const b = new LogBuffer(3);
    for (let i = 1; i <= 5; i++) b.add('web', `w${i}`);
    b.add('ambassador', 'a1');
    expect(b.get('web')).toEqual(['w3', 'w4', 'w5']);
    expect(b.get('web', 1)).toEqual(['w5']);
    expect(b.get('ambassador')).toEqual(['a1']);
    expect(b.get('nobody')).toEqual([]);
  });
});
