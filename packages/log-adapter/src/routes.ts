// Route templates turn raw paths into a bounded label: `/users/:id` matches /users/42,
// `/static/*` matches anything below /static/. The query string is ignored, a trailing slash
// too; no match is "other". Templates are matched segment by segment, not as regular expressions:
// a template with several `*` compiled to a regex backtracks polynomially on a crafted path (each
// `.*` retried at every slash), while this costs at most segments × template length.

export const UNMATCHED_ROUTE = 'other';

/** A literal segment (its text), one non-empty segment (`:id`), or one or more segments (`*`). */
type Token = string | typeof PARAM | typeof STAR;
const PARAM = 0;
const STAR = 1;

export class Routes {
  readonly #routes: { template: string; tokens: Token[] }[];

  constructor(templates: readonly string[]) {
    this.#routes = templates.map((template) => ({ template, tokens: compileTemplate(template) }));
  }

  /** The template a path matches, or "other". */
  match(path: string | undefined): string {
    if (path === undefined || this.#routes.length === 0) return UNMATCHED_ROUTE;
    const q = path.indexOf('?');
    const p = q === -1 ? path : path.slice(0, q);
    const segments = p.split('/');
    // "/a/" is "/a" with a trailing slash: each template may match either.
    const trimmed = p.length > 1 && p.endsWith('/') ? segments.slice(0, -1) : null;
    for (const r of this.#routes)
      if (matchTokens(r.tokens, segments) || (trimmed !== null && matchTokens(r.tokens, trimmed)))
        return r.template;
    return UNMATCHED_ROUTE;
  }
}

/** Throws when a template is not a path (so config errors name it). */
export function compileTemplate(template: string): Token[] {
  if (!template.startsWith('/')) throw new Error(`"${template}" is not a path template (start it with /)`);
  return template.split('/').map((seg) => {
    if (seg === '*') return STAR;
    if (/^:[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) return PARAM;
    if (seg.startsWith(':')) throw new Error(`"${template}": "${seg}" is not a parameter like :id`);
    return seg;
  });
}

/**
 * Wildcard matching over segments, where every token but `*` takes exactly one segment: on a
 * mismatch only the last `*` seen takes one more segment (the classic linear-space glob match).
 */
function matchTokens(tokens: readonly Token[], segments: readonly string[]): boolean {
  let t = 0;
  let s = 0;
  let star = -1; // index of the last * seen
  let resume = 0; // the segment that * takes next when the rest fails
  while (s < segments.length) {
    const token = tokens[t];
    if (token === STAR) {
      star = t++;
      resume = ++s; // * takes at least one segment
    } else if (t < tokens.length && (token === PARAM ? segments[s] !== '' : token === segments[s])) {
      t++;
      s++;
    } else if (star !== -1) {
      t = star + 1;
      s = ++resume;
    } else return false;
  }
  return t === tokens.length;
}
