// Measures the images the e2e suite runs: size against the base, and time from `podman start`
// to /readyz 200, beside bare node in the same image measured the same way (a one-line
// `node -e` HTTP server polled alike) and `node -e 0` (start --attach until it exits). Prints a markdown
// table and writes images/results.md. Usage (after `pnpm build`):
//   node images/measure.ts [--runs 5] [--base <image>]
// Builds the offline images first (images/offline.ts) unless they exist; runs each container
// with a read-only root filesystem, as the manifests do.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../packages/service/src/testing.ts';
import {
  buildComponent,
  buildNodeBase,
  COMPONENTS,
  type Component,
  imageName,
  LOCAL_BASE,
  repoRoot,
} from './offline.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, base: { type: 'string' } },
});
const runs = Math.max(1, Number(values.runs));

function podman(args: string[]): string {
  const r = spawnSync('podman', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** Each component's readiness port and the minimum it needs to become ready on its own. */
function runArgs(c: Component, fixtures: string): { port: number; args: string[] } {
  const tmp = (path: string) => ['--tmpfs', `${path}:mode=1777,size=16m`];
  switch (c) {
    case 'web':
      return { port: 8080, args: [...tmp('/srv/www'), '-e', 'WEB_ROOT=/srv/www'] };
    case 'content-sync':
      return {
        port: 8081,
        args: [
          ...tmp('/srv/www'),
          '-v',
          `${fixtures}:/config:ro`,
          '-e',
          'SYNC_SOURCE=/config',
          '-e',
          'SYNC_TARGET=/srv/www',
        ],
      };
    case 'ambassador':
      return { port: 9901, args: ['-e', 'AMBASSADOR_UPSTREAMS=http://127.0.0.1:8080'] };
    case 'log-adapter':
      // Ready once the log exists (in a pod, web creates it): give it an empty one.
      return {
        port: 9113,
        args: ['-v', `${fixtures}:/var/log/web:ro`, '-e', 'ADAPTER_LOG_PATH=/var/log/web/access.log'],
      };
  }
}

/** `podman start` → first 200 from `path`, for a container created with `args` (image and command included). */
async function startToHttp(port: number, args: string[], path: string, what: string): Promise<number> {
  const hostPort = await freePort();
  const id = podman([
    'create',
    '--read-only',
    '--cap-drop',
    'ALL',
    '-p',
    `127.0.0.1:${hostPort}:${port}`,
    ...args,
  ]);
  try {
    const t0 = performance.now();
    podman(['start', id]);
    const deadline = t0 + 30_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${hostPort}${path}`, { signal: AbortSignal.timeout(1000) })
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) return performance.now() - t0;
      if (performance.now() > deadline)
        throw new Error(`${what}: ${path} not 200 within 30 s:\n${podman(['logs', id])}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    podman(['rm', '--force', '--time', '0', id]);
  }
}

function readyAfterStart(image: string, c: Component, fixtures: string): Promise<number> {
  const { port, args } = runArgs(c, fixtures);
  return startToHttp(port, [...args, image], '/readyz', c);
}

/** The same measurement for bare node in the same image: a one-line HTTP server. */
function bareNodeHttp(image: string): Promise<number> {
  const server = "require('http').createServer((q,s)=>s.end()).listen(8080)";
  return startToHttp(8080, ['--entrypoint', '/nodejs/bin/node', image, '-e', server], '/', 'node -e server');
}

/** `podman start --attach` of `node -e 0`: container start to node's exit, in the same image. */
function nodeBaseline(image: string): number {
  const id = podman([
    'create',
    '--read-only',
    '--cap-drop',
    'ALL',
    '--entrypoint',
    '/nodejs/bin/node',
    image,
    '-e',
    '0',
  ]);
  try {
    const t0 = performance.now();
    podman(['start', '--attach', id]);
    return performance.now() - t0;
  } finally {
    podman(['rm', '--force', id]);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

const base = values.base ?? buildNodeBase();
const baseSize = Number(podman(['image', 'inspect', base, '--format', '{{.Size}}']));
const fixtures = mkdtempSync(join(tmpdir(), 'multipod-measure-'));
chmodSync(fixtures, 0o755); // read by uid 65532 in the container
writeFileSync(join(fixtures, 'index.html'), '<!doctype html><title>measure</title>\n');
writeFileSync(join(fixtures, 'access.log'), '');
const rows: string[] = [];
try {
  for (const c of COMPONENTS) {
    const image = buildComponent(c, { base });
    const size = Number(podman(['image', 'inspect', image, '--format', '{{.Size}}']));
    const ready: number[] = [];
    const bare: number[] = [];
    const node: number[] = [];
    for (let i = 0; i < runs; i++) {
      ready.push(await readyAfterStart(image, c, fixtures));
      bare.push(await bareNodeHttp(image));
      node.push(nodeBaseline(image));
    }
    const [r, b, n] = [median(ready), median(bare), median(node)];
    const ratio = size / baseSize;
    rows.push(
      `| multipod-${c} | ${mb(size)} | ${mb(baseSize)} | ${ratio.toFixed(3)}× ${ratio <= 1.05 ? '✓' : '✗ (goal ≤ 1.05×)'} | ${mb(size - baseSize)} | ${r.toFixed(0)} | ${b.toFixed(0)} | ${(r - b).toFixed(0)} | ${n.toFixed(0)} |`,
    );
    process.stderr.write(`measured ${imageName(c)}\n`);
  }
} finally {
  rmSync(fixtures, { recursive: true, force: true });
}

const table = [
  `Base: \`${base}\`${base === LOCAL_BASE ? ' (local stand-in for distroless nodejs24, built from the host Node binary)' : ''}; median of ${runs} runs; podman ${podman(['version', '--format', '{{.Client.Version}}'])}, read-only root filesystem.`,
  '',
  '| image | size MB | base MB | size / base | app layer MB | start → /readyz 200 ms | start → bare `node -e` HTTP 200 ms | app start-up cost ms | `node -e 0` (start --attach → exit) ms |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows,
  '',
].join('\n');
process.stdout.write(`${table}\n`);
writeFileSync(
  join(repoRoot, 'images/results.md'),
  `# Image measurements (\`node images/measure.ts\`)\n\n${table}`,
);
