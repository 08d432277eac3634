// The demo runner: checks the ports, makes the two shared volumes (temp dirs), starts the
// containers and the pod view, prints where to look, and on Ctrl-C stops everything and cleans up.
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { removeEdit } from './actions.ts';
import { type DemoOptions, parseArgs, USAGE, UsageError } from './cli.ts';
import { LogBuffer } from './log-buffer.ts';
import { formatLine } from './log-lines.ts';
import { type PodPlan, planPod, portsFor, portsInUse } from './pod.ts';
import { busyPorts, portHint } from './ports.ts';
import { collectState } from './probe.ts';
import { Supervisor } from './supervisor.ts';
import { createViewServer } from './view-server.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

const say = (msg: string) => process.stdout.write(`${msg}\n`);
const warn = (msg: string) => process.stderr.write(`${msg}\n`);

/** Returns the exit code for a problem found before anything started; resolves never while running. */
export async function main(argv: readonly string[], env = process.env): Promise<number> {
  let opts: DemoOptions;
  try {
    opts = parseArgs(argv, env, REPO_ROOT);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    warn(`demo: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    say(USAGE);
    return 0;
  }
  if (!existsSync(opts.source) || !statSync(opts.source).isDirectory()) {
    warn(`demo: content source ${opts.source} is not a directory (--source / DEMO_SOURCE)`);
    return 2;
  }
  const ports = portsFor(opts.portBase);
  const draft = planPod({ pattern: opts.pattern, ports, source: opts.source, contentDir: '', logDir: '' });
  const missing = draft.containers.filter((c) => !existsSync(join(REPO_ROOT, c.main)));
  if (missing.length) {
    warn(
      `demo: not built yet: ${missing.map((c) => c.main).join(', ')}\n` +
        '      run `npx -y pnpm@12.4.2 build` (or `pnpm build`) first',
    );
    return 1;
  }
  const busy = await busyPorts(portsInUse(draft));
  if (busy.length) {
    for (const b of busy) warn(`demo: ${b}`);
    warn(`demo: ${portHint()}`);
    return 1;
  }

  const volumes = await mkdtemp(join(tmpdir(), 'multipod-demo-'));
  const plan = planPod({
    pattern: opts.pattern,
    ports,
    source: opts.source,
    contentDir: join(volumes, 'content'),
    logDir: join(volumes, 'logs'),
  });
  await mkdir(plan.contentDir);
  await mkdir(plan.logDir);

  const colour = process.stdout.isTTY === true && !env['NO_COLOR'];
  const width = Math.max(4, ...plan.containers.map((c) => c.name.length));
  const index = new Map(plan.containers.map((c, i) => [c.name as string, i]));
  const demoLine = (msg: string) => say(formatLine('demo', msg, { colour, width, index: 4 }));
  const logs = new LogBuffer();
  const supervisor = new Supervisor(
    plan.containers.map((c) => ({
      name: c.name,
      command: process.execPath,
      args: [join(REPO_ROOT, c.main)],
      env: c.env,
      cwd: REPO_ROOT,
    })),
    {
      onLine: (name, line) => {
        logs.add(name, line);
        say(formatLine(name, line, { colour, width, index: index.get(name) ?? 0 }));
      },
      onEvent: demoLine,
    },
  );
  const view = createViewServer({ plan, supervisor, logs, onAction: demoLine });

  let stopping = false;
  const cleanup = async () => {
    await Promise.all([supervisor.stopAll(), closeView(view)]);
    await removeEdit(plan.source).catch(() => {});
    await rm(volumes, { recursive: true, force: true });
  };
  const shutdown = (signal: string) => {
    if (stopping) {
      demoLine(`${signal} again: killing every container now`);
      supervisor.killAllNow();
      return;
    }
    stopping = true;
    demoLine(`${signal}: stopping ${plan.containers.map((c) => c.name).join(', ')}…`);
    cleanup().then(
      () => {
        demoLine(`all stopped; removed ${volumes}`);
        process.exit(0);
      },
      (err: Error) => {
        warn(`demo: cleanup failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // The terminal went away: the containers must not outlive it.
  process.on('SIGHUP', () => shutdown('SIGHUP'));
  // Whatever happens to the runner, no container outlives it.
  process.on('exit', () => supervisor.killAllNow());
  // A wrapper that dies of a signal without passing it on (pnpm and npx do, on SIGTERM) leaves the
  // runner orphaned, re-parented to init: stop then too, so nothing outlives what the user started.
  const parent = process.ppid;
  setInterval(() => {
    if (!stopping && process.ppid !== parent) shutdown(`parent process ${parent} gone`);
  }, 250).unref();

  try {
    await new Promise<void>((ok, fail) => {
      view.once('error', fail);
      view.listen(ports.view, '127.0.0.1', () => ok());
    });
  } catch (err) {
    warn(`demo: pod view cannot listen on 127.0.0.1:${ports.view}: ${(err as Error).message}; ${portHint()}`);
    await rm(volumes, { recursive: true, force: true });
    return 1;
  }
  supervisor.startAll();
  void announceWhenReady(plan, supervisor, demoLine, () => stopping);
  return new Promise<number>(() => {});
}

function closeView(server: Server): Promise<void> {
  return new Promise((ok) => {
    server.close(() => ok());
    server.closeAllConnections();
  });
}

async function announceWhenReady(
  plan: PodPlan,
  supervisor: Supervisor,
  log: (msg: string) => void,
  stopped: () => boolean,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  let notReady: string[] = [];
  while (Date.now() < deadline && !stopped()) {
    const state = await collectState(plan, supervisor);
    notReady = state.containers.filter((c) => !c.ready).map((c) => `${c.name} (${c.readyDetail})`);
    if (notReady.length === 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  if (stopped()) return;
  if (notReady.length) log(`not ready after 30s: ${notReady.join('; ')} — the pod view shows why`);
  say(banner(plan));
}

export function banner(plan: PodPlan): string {
  const has = (n: string) => plan.containers.some((c) => c.name === n);
  const source = relative(process.cwd(), plan.source) || '.';
  const lines = [
    '',
    `  multipod demo — ${plan.pattern === 'full' ? 'the full pod' : `the ${plan.pattern} pattern`}: ${plan.containers.map((c) => c.name).join(', ')}`,
    '',
    `  site        ${plan.siteUrl}${has('ambassador') ? '   (through the ambassador)' : '   (web itself)'}`,
    `  pod view    ${plan.viewUrl}`,
  ];
  for (const c of plan.containers)
    if (c.metrics) lines.push(`  metrics     ${c.metrics.padEnd(36)} ${c.name}`);
  lines.push(
    `  volumes     ${plan.logDir.replace(/logs$/, '')}{${has('content-sync') ? 'content,' : ''}logs}`,
  );
  lines.push('');
  if (has('content-sync')) lines.push(`  try: edit ${join(source, 'index.html')} and reload the site`);
  if (has('log-adapter'))
    lines.push(
      `       curl -s ${plan.containers.find((c) => c.name === 'log-adapter')!.metrics} | grep http_requests_total`,
    );
  lines.push('  Ctrl-C stops every container and removes the volumes.', '');
  return lines.join('\n');
}
