// The pod view in a real headless Chromium (Debian's chromium, driven by playwright-core): the
// page loads, shows all four containers ready, and follows a content change and traffic.
// Takes a screenshot; UPDATE_SCREENSHOT=1 writes it to docs/images/pod-view.png for the guides,
// otherwise it goes to a temp file so a test run leaves the work tree as it was.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PORTS } from './src/pod.ts';
import { isPortFree } from './src/ports.ts';
import type { PodState } from './src/probe.ts';
import { REPO_ROOT } from './src/run.ts';
import { freePortBase, waitFor } from './src/testing.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SCREENSHOT =
  process.env['UPDATE_SCREENSHOT'] === '1'
    ? join(REPO_ROOT, 'docs', 'images', 'pod-view.png')
    : join(tmpdir(), `multipod-pod-view-${process.pid}.png`);

describe('the pod view in Chromium', () => {
  let source: string;
  let profile: string;
  let demo: ChildProcess;
  let exited: Promise<unknown>;
  let viewUrl: string;
  let context: BrowserContext;
  let page: Page;
  let out = '';
  const errors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: run scripts/install-system-deps.sh`);
    source = await mkdtemp(join(tmpdir(), 'pod-view-site-'));
    await cp(join(REPO_ROOT, 'examples', 'site'), source, { recursive: true });
    // The pod's own ports when they are free (so the screenshot shows them), else a free block.
    const ports = Object.values(DEFAULT_PORTS);
    const defaultsFree = (await Promise.all(ports.map((p) => isPortFree(p)))).every(Boolean);
    const args = ['full', '--source', source];
    if (!defaultsFree) args.push('--port-base', String(await freePortBase()));
    demo = spawn(process.execPath, [join(REPO_ROOT, 'demo', 'main.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    demo.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    exited = new Promise((resolve) => demo.once('exit', resolve));
    viewUrl = await waitFor('the banner', () => /pod view {4}(http:\/\/\S+)/.exec(out)?.[1], 60_000);

    profile = await mkdtemp(join(tmpdir(), 'pod-view-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 }, // a laptop screen: everything must fit
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    await page.goto(viewUrl);
  });

  afterAll(async () => {
    await context?.close();
    if (demo && demo.exitCode === null) {
      demo.kill('SIGINT');
      await exited;
    }
    if (source) await rm(source, { recursive: true, force: true });
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  const text = async (sel: string) => (await page.locator(sel).textContent()) ?? '';
  const number = async (sel: string) => Number((await text(sel)).replace(/[^\d]/g, '') || '0');

  it('loads and shows all four containers ready', async () => {
    for (const name of ['content-sync', 'web', 'ambassador', 'log-adapter']) {
      const card = page.locator(`[data-container="${name}"]`);
      await card.locator('.state', { hasText: 'ready' }).waitFor({ timeout: 30_000 });
      expect(await card.getAttribute('data-ready')).toBe('true');
    }
    expect(await text('#summary')).toContain('4/4 ready');
    expect(await page.locator('svg#arrows path.flow').count()).toBeGreaterThanOrEqual(6);
    expect(await text('#amb-upstreams')).toMatch(/up$/);
    expect(errors).toEqual([]);
  });

  it('follows a content change: new snapshot, new headline', async () => {
    const before = await text('#sync-snapshot');
    const index = join(source, 'index.html');
    const html = await readFile(index, 'utf8');
    await writeFile(index, html.replace('Hello from the main container', 'Hello, pod view'));
    await page.locator('#sync-headline', { hasText: 'Hello, pod view' }).waitFor({ timeout: 10_000 });
    expect(await text('#sync-snapshot')).not.toBe(before);
    await page.locator('#events li', { hasText: 'content-sync published snapshot' }).first().waitFor();
  });

  it('shows one container’s output, as kubectl logs -c does', async () => {
    await page.click('[data-container="content-sync"] [data-action="logs"]');
    await page.locator('#logs-lines', { hasText: '"msg":"published"' }).waitFor({ timeout: 10_000 });
    expect(await text('#logs-cmd')).toBe('kubectl logs full -c content-sync');
    expect(await text('#logs-lines')).not.toContain('"component":"web"');
  });

  it('fits 1400 px: no horizontal overflow, an upstream URL on one line, the counts explained', async () => {
    const overflow = await page.evaluate(() => {
      const found: string[] = [];
      if (document.documentElement.scrollWidth > window.innerWidth)
        found.push(`page ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
      const boxes = document.querySelectorAll<HTMLElement>('.panel, .card, .volume, .actor, .pod');
      for (const box of boxes) {
        if (box.offsetParent === null) continue;
        const edge = box.getBoundingClientRect().right;
        for (const el of box.querySelectorAll<HTMLElement>('*'))
          if (el.getBoundingClientRect().right > edge + 0.5)
            found.push(
              `${el.tagName.toLowerCase()}#${el.id || el.className} passes the right edge of ${box.className}`,
            );
      }
      return found;
    });
    expect(overflow).toEqual([]);
    // A URL is one token: it may move to its own line, never break inside.
    const url = page.locator('#amb-upstreams .url').first();
    expect(await url.textContent()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await url.evaluate((el) => el.getClientRects().length)).toBe(1);
    expect(await text('#sync-count')).toMatch(/^\d+ snapshots? since start/);
    expect(await text('[data-container="log-adapter"] .note')).toContain('not counted');
  });

  it('follows traffic: the button sends 50 requests and the counts go up', async () => {
    const before = await number('#adapter-requests');
    await page.click('#btn-traffic');
    await page.locator('#result', { hasText: 'sent 50' }).waitFor({ timeout: 20_000 });
    await waitFor('50 more requests counted', async () => (await number('#adapter-requests')) >= before + 50);
    expect(await text('#adapter-codes')).toMatch(/200: \d+, 404: \d+/);
    expect(await text('#adapter-latency')).toMatch(/^p50 [\d.]+ ms/);
    const state = (await (await fetch(new URL('/api/state', viewUrl))).json()) as PodState;
    expect(state.ambassador?.requests).toBeGreaterThanOrEqual(50);
    // Let the rate and the events settle, then keep a picture for the docs.
    await page.waitForTimeout(1500);
    await mkdir(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    if (process.env['UPDATE_SCREENSHOT'] !== '1') await rm(SCREENSHOT);
    expect(errors).toEqual([]);
  });
});
