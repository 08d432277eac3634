// Header policy of a pool or a route: headers to set, add or remove on the request going up and on
// the response coming back, with values that may name `${client_ip}`, `${request_id}`, `${host}`
// or `${scheme}`. Parsed once at config time into ops on the flat header lists the listener uses.

/** The values a header template may name. */
export interface HeaderContext {
  readonly client_ip: string;
  readonly request_id: string;
  readonly host: string;
  readonly scheme: string;
}

export const TEMPLATE_VARIABLES: readonly (keyof HeaderContext)[] = [
  'client_ip',
  'request_id',
  'host',
  'scheme',
];

/** A value: literal text and variables, in order. */
export type Template = readonly (string | { readonly variable: keyof HeaderContext })[];

export interface HeaderOps {
  readonly set: readonly (readonly [string, Template])[];
  readonly add: readonly (readonly [string, Template])[];
  /** Lower-case names. */
  readonly remove: readonly string[];
}

export interface HeaderPolicy {
  readonly request?: HeaderOps;
  readonly response?: HeaderOps;
}

/** Headers a policy may not touch: framing and hop-by-hop ones belong to the proxy itself. */
export const RESERVED_HEADERS = new Set([
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'host',
]);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Undefined when the name may be set, else why not. */
export function headerNameProblem(name: string): string | undefined {
  if (!TOKEN.test(name)) return `"${name}" is not a header name`;
  if (RESERVED_HEADERS.has(name.toLowerCase()))
    return `"${name}" belongs to the proxy (framing, hop-by-hop or Host)`;
  return undefined;
}

/** Parses `a ${client_ip} b`; throws with the unknown variable's name. */
export function parseTemplate(value: string): Template {
  if (/[\r\n\0]/.test(value)) throw new Error('a header value cannot hold CR, LF or NUL');
  const out: (string | { variable: keyof HeaderContext })[] = [];
  let from = 0;
  for (const m of value.matchAll(/\$\{([a-z_]+)\}/g)) {
    const name = m[1] as keyof HeaderContext;
    if (!TEMPLATE_VARIABLES.includes(name))
      throw new Error(
        `unknown variable \${${m[1]}} (have: ${TEMPLATE_VARIABLES.map((v) => `\${${v}}`).join(', ')})`,
      );
    if (m.index > from) out.push(value.slice(from, m.index));
    out.push({ variable: name });
    from = m.index + m[0].length;
  }
  if (from < value.length) out.push(value.slice(from));
  return out;
}

export function render(t: Template, ctx: HeaderContext): string {
  if (t.length === 1 && typeof t[0] === 'string') return t[0];
  let s = '';
  for (const part of t) s += typeof part === 'string' ? part : ctx[part.variable];
  return s;
}

/** Applies ops to a flat [name, value, …] list in place: remove, then set (replace), then add. */
export function applyOps(headers: string[], ops: HeaderOps, ctx: HeaderContext): void {
  const drop = ops.remove.length > 0 || ops.set.length > 0;
  if (drop) {
    const names = new Set([...ops.remove, ...ops.set.map(([n]) => n.toLowerCase())]);
    for (let i = headers.length - 2; i >= 0; i -= 2)
      if (names.has(headers[i]!.toLowerCase())) headers.splice(i, 2);
  }
  for (const [name, t] of ops.set) headers.push(name, render(t, ctx));
  for (const [name, t] of ops.add) headers.push(name, render(t, ctx));
}
