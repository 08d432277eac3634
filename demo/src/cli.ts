// The runner's command line: `node demo/main.ts [full|sidecar|ambassador|adapter] [--port-base N] [--source DIR]`.
import { resolve } from 'node:path';

export const PATTERNS = ['full', 'sidecar', 'ambassador', 'adapter'] as const;
export type Pattern = (typeof PATTERNS)[number];

export interface DemoOptions {
  readonly pattern: Pattern;
  /** Shifts every port to base+0…base+5; undefined keeps the pod's own ports (8000, 8080…). */
  readonly portBase: number | undefined;
  /** The content the sidecar publishes (a directory); defaults to examples/site. */
  readonly source: string;
  readonly help: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `multipod demo — the multi-container pod on this machine, no cluster needed

usage: node demo/main.ts [pattern] [--port-base N] [--source DIR]

patterns:
  full        all four containers, wired as manifests/full (default)
  sidecar     web + content-sync sharing the content volume
  ambassador  web + ambassador in front of it (port translation, health checks)
  adapter     web + log-adapter reading its access log (Prometheus metrics)

options:
  --port-base N   use ports N…N+5 instead of the pod's own (env DEMO_PORT_BASE)
                  order: ambassador, web, content-sync admin, ambassador admin, log-adapter, pod view
  --source DIR    content the sidecar publishes (env DEMO_SOURCE; default examples/site)
  -h, --help      this text

Ctrl-C stops every container and removes the demo's temporary volumes.
`;

/** Parses argv (pnpm may pass a leading `--`); env supplies DEMO_PORT_BASE and DEMO_SOURCE. */
export function parseArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  repoRoot: string,
): DemoOptions {
  let pattern: Pattern | undefined;
  let portBase: string | undefined = env['DEMO_PORT_BASE'] || undefined;
  let source: string | undefined = env['DEMO_SOURCE'] || undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    const [flag, inline] = arg.startsWith('--') ? splitFlag(arg) : [undefined, undefined];
    if (flag === 'port-base' || flag === 'source') {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${flag} needs a value`);
      if (flag === 'port-base') portBase = value;
      else source = value;
      continue;
    }
    if (flag !== undefined) throw new UsageError(`unknown option ${arg}`);
    if (!(PATTERNS as readonly string[]).includes(arg))
      throw new UsageError(`unknown pattern "${arg}"; choose one of ${PATTERNS.join(', ')}`);
    if (pattern !== undefined) throw new UsageError(`one pattern at a time (got ${pattern} and ${arg})`);
    pattern = arg as Pattern;
  }
  return {
    pattern: pattern ?? 'full',
    portBase: portBase === undefined ? undefined : parsePortBase(portBase),
    source: resolve(repoRoot, source ?? 'examples/site'),
    help,
  };
}

function splitFlag(arg: string): [string, string | undefined] {
  const eq = arg.indexOf('=');
  return eq === -1 ? [arg.slice(2), undefined] : [arg.slice(2, eq), arg.slice(eq + 1)];
}

function parsePortBase(raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 1024 || n > 65530)
    throw new UsageError(
      `--port-base / DEMO_PORT_BASE: "${raw}" is not an integer from 1024 to 65530 (six ports from it are used)`,
    );
  return n;
}
