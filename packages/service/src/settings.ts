// Settings: every one is a flag and an environment variable (flags win), parsed and validated once
// at start-up into a frozen, typed object. A bad value throws a SettingError naming the setting,
// the value and what is allowed; run-main turns it into one line on stderr and exit code 2.
import { isIP } from 'node:net';
import { z } from 'zod';
import { formatDuration, formatSize, parseDuration, parseSize } from './units.ts';

/** How a raw string becomes a value: a zod schema plus the words used in errors and --help. */
export interface Kind<T> {
  readonly schema: z.ZodType<T, string>;
  /** What is allowed, for error messages: "an integer from 1 to 65535". */
  readonly allowed: string;
  /** Placeholder in --help: "<port>". */
  readonly placeholder: string;
  /**
   * What the flag means when given alone (`--once` is `--once true`); a kind without one needs a
   * value after its flag.
   */
  readonly bare?: string;
}

export interface SettingSpec<T = unknown> {
  readonly kind: Kind<T>;
  /** Environment variable, e.g. WEB_PORT. */
  readonly env: string;
  /** Flag without dashes, e.g. `port` for --port. */
  readonly flag: string;
  readonly help: string;
  /** Raw default, parsed like any other value (so --help shows what a user would type). */
  readonly default?: string;
  /** No default and must be given. */
  readonly required?: boolean;
}

export type SettingSpecs = Readonly<Record<string, SettingSpec>>;

type ValueOf<S> =
  S extends SettingSpec<infer T>
    ? S extends { default: string } | { required: true }
      ? T
      : T | undefined
    : never;

export type Settings<S extends SettingSpecs> = { readonly [K in keyof S]: ValueOf<S[K]> };

export class SettingError extends Error {
  override name = 'SettingError';
}

/** Declares one setting; keeps literal types so `Settings<>` knows which ones have defaults. */
export function setting<T, const S extends Omit<SettingSpec<T>, 'kind'>>(
  kind: Kind<T>,
  spec: S,
): S & { kind: Kind<T> } {
  return { ...spec, kind };
}

// ---- kinds ---------------------------------------------------------------------------------

function kind<T>(schema: z.ZodType<T, string>, allowed: string, placeholder: string, bare?: string): Kind<T> {
  return bare === undefined ? { schema, allowed, placeholder } : { schema, allowed, placeholder, bare };
}

export function int(min: number, max: number, placeholder = '<n>'): Kind<number> {
  return kind(
    z
      .string()
      .regex(/^-?\d+$/)
      .transform(Number)
      .pipe(z.number().int().min(min).max(max)),
    `an integer from ${min} to ${max}`,
    placeholder,
  );
}

export const port = (): Kind<number> => int(0, 65535, '<port>');

/**
 * The longest wait a Node.js timer can hold (2^31-1 ms, about 24.8 days): longer ones are cut to it
 * with a warning. Every duration is refused above it unless the setting states another maximum
 * (one that never reaches a timer, like a Cache-Control max-age).
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function duration(opts: { min?: number; max?: number } = {}): Kind<number> {
  const min = opts.min ?? 0;
  const max = opts.max ?? MAX_TIMER_MS;
  const schema = z
    .string()
    .transform((s, ctx) => {
      const ms = parseDuration(s);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: 'not a duration' });
        return z.NEVER;
      }
      return ms;
    })
    .pipe(z.number().min(min).max(max));
  const bound = min > 0 ? `from ${formatDuration(min)} to` : 'at most';
  return kind(schema, `a duration like 500ms, 10s or 2m, ${bound} ${formatDuration(max)}`, '<duration>');
}

export function size(opts: { min?: number; max?: number } = {}): Kind<number> {
  const min = opts.min ?? 0;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  const schema = z
    .string()
    .transform((s, ctx) => {
      const n = parseSize(s);
      if (n === null) {
        ctx.addIssue({ code: 'custom', message: 'not a size' });
        return z.NEVER;
      }
      return n;
    })
    .pipe(z.number().min(min).max(max));
  const bounds =
    opts.min !== undefined && opts.max !== undefined
      ? `, from ${formatSize(min)} to ${formatSize(max)}`
      : opts.min !== undefined
        ? `, of at least ${formatSize(min)}`
        : opts.max !== undefined
          ? `, of at most ${formatSize(max)}`
          : '';
  return kind(schema, `a size like 512Ki, 10Mi, 1G or a number of bytes${bounds}`, '<size>');
}

export const bool = (): Kind<boolean> =>
  kind(
    z
      .string()
      .regex(/^(true|false|1|0|yes|no)$/i)
      .transform((s) => /^(true|1|yes)$/i.test(s)),
    'true or false',
    '<bool>',
    'true',
  );

export function oneOf<const V extends readonly [string, ...string[]]>(values: V): Kind<V[number]> {
  return kind(
    z.enum(values) as unknown as z.ZodType<V[number], string>,
    `one of ${values.join(', ')}`,
    `<${values.join('|')}>`,
  );
}

export const text = (placeholder = '<text>'): Kind<string> =>
  kind(z.string().min(1), 'a non-empty string', placeholder);

/**
 * RFC 1123 host name: dot-separated labels of letters, digits, `-` (and `_`, seen in the wild); the
 * last label is not all digits, so `999.1.1.1` is a bad address rather than a name to look up.
 */
const HOST_NAME =
  /^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

/** An address to listen on: an IPv4 or IPv6 address, or a host name (resolved when listening). */
export const host = (): Kind<string> =>
  kind(
    z.string().refine((s) => isIP(s) !== 0 || (HOST_NAME.test(s) && !/(^|\.)\d+\.?$/.test(s))),
    'an IP address or a host name (0.0.0.0, ::, 127.0.0.1, localhost)',
    '<address>',
  );

export const path = (): Kind<string> => kind(z.string().min(1), 'a file system path', '<path>');

export function url(protocols: readonly string[] = ['http:', 'https:']): Kind<string> {
  return kind(
    z.string().refine((s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    }),
    `a URL (${protocols.map((p) => p.replace(':', '')).join(' or ')})`,
    '<url>',
  );
}

/** Comma-separated list of another kind; empty items are ignored. */
export function list<T>(item: Kind<T>): Kind<T[]> {
  return kind(
    z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      )
      .pipe(z.array(item.schema)),
    `a comma-separated list of ${item.allowed.replace(/^an? /, '')} values`,
    `${item.placeholder},...`,
  );
}

// ---- parsing -------------------------------------------------------------------------------

/** Splits argv into flag values: `--flag value`, `--flag=value`, and a bare `--flag` where its kind allows. */
function readFlags(argv: readonly string[], specs: SettingSpecs): Map<string, string> {
  const byFlag = new Map(Object.entries(specs).map(([key, s]) => [s.flag, key]));
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--'))
      throw new SettingError(`unexpected argument "${arg}"; settings are --flag value (see --help)`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const key = byFlag.get(name);
    if (key === undefined) throw new SettingError(`unknown flag --${name} (see --help for the settings)`);
    const bare = specs[key]!.kind.bare;
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (bare !== undefined && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) value = bare;
    else {
      const next = argv[i + 1];
      if (next === undefined)
        throw new SettingError(`flag --${name} needs a value: ${specs[key]!.kind.allowed}`);
      value = next;
      i++;
    }
    out.set(key, value);
  }
  return out;
}

/**
 * Reads every setting from flags, then the environment, then the default; validates each.
 * Throws SettingError on the first bad one.
 */
export function loadSettings<S extends SettingSpecs>(
  specs: S,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Settings<S> {
  const flags = readFlags(argv, specs);
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const fromFlag = flags.get(key);
    const fromEnv = env[spec.env];
    const raw = fromFlag ?? (fromEnv === undefined || fromEnv === '' ? undefined : fromEnv) ?? spec.default;
    const where = `--${spec.flag} / ${spec.env}`;
    if (raw === undefined) {
      if (spec.required) throw new SettingError(`missing setting ${where}: give ${spec.kind.allowed}`);
      out[key] = undefined;
      continue;
    }
    const parsed = spec.kind.schema.safeParse(raw);
    if (!parsed.success) {
      throw new SettingError(`invalid setting ${where}: ${JSON.stringify(raw)} is not ${spec.kind.allowed}`);
    }
    out[key] = parsed.data;
  }
  return Object.freeze(out) as Settings<S>;
}

/** The --help text: one line per setting with its flag, variable, default and meaning. */
export function helpText(title: string, specs: SettingSpecs): string {
  const rows = Object.values(specs).map((s) => [
    `--${s.flag} ${s.kind.placeholder}`,
    s.env,
    s.required ? '(required)' : s.default === undefined ? '(unset)' : s.default === '' ? '""' : s.default,
    s.help,
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map(
    (r) =>
      `  ${r
        .slice(0, 3)
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')}  ${r[3]}`,
  );
  return `${title}\n\nEvery setting is a flag or an environment variable; flags win.\n\n${lines.join('\n')}\n`;
}
