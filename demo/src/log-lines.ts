// Turns a container's JSON log line into one readable line with its container name in front,
// the way `kubectl logs -c <name>` would show which container spoke.

const LEVEL_COLOURS: Record<string, string> = {
  trace: '90',
  debug: '90',
  info: '32',
  warn: '33',
  error: '31',
  fatal: '31;1',
};
const NAME_COLOURS = ['36', '35', '34', '33', '32'];
const SKIP = new Set(['level', 'time', 'msg', 'component', 'pid', 'hostname']);

export interface FormatOptions {
  colour: boolean;
  /** Width the names are padded to, so messages line up. */
  width: number;
  /** Index of the container, picks its colour. */
  index: number;
}

export function formatLine(name: string, line: string, opts: FormatOptions): string {
  const paint = (code: string | undefined, s: string) =>
    opts.colour && code ? `\x1b[${code}m${s}\x1b[0m` : s;
  const prefix = paint(NAME_COLOURS[opts.index % NAME_COLOURS.length], `${name.padEnd(opts.width)} |`);
  const parsed = parseJson(line);
  if (!parsed) return `${prefix} ${line}`;
  const level = typeof parsed['level'] === 'string' ? parsed['level'] : 'info';
  const msg = typeof parsed['msg'] === 'string' ? parsed['msg'] : '';
  const fields = Object.entries(parsed)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const text = [msg, fields ? paint('90', fields) : ''].filter(Boolean).join(' ');
  return `${prefix} ${paint(LEVEL_COLOURS[level], level.padEnd(5))} ${text}`;
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
