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
const SLASH = 47;

export class Routes {
  readonly #routes: { template: string; tokens: Token[] }[];

  constructor(templates: readonly string[]) {
    this.#routes = templates.map((template) => ({ template, tokens: compileTemplate(template) }));
  }

  /** The template a path matches, or "other". */
  match(path: string | undefined): string {
    if (path === undefined || this.#routes.length === 0) return UNMATCHED_ROUTE;
    const q = path.indexOf('?');
    const end = q === -1 ? path.length : q;
    // "/a/" is "/a" with a trailing slash: each template may match either.
    const trimmed = end > 1 && path.charCodeAt(end - 1) === SLASH ? end - 1 : -1;
    for (const r of this.#routes)
      if (matchTokens(r.tokens, path, end) || (trimmed !== -1 && matchTokens(r.tokens, path, trimmed)))
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
 * Wildcard matching over the segments of path[0, end) (split at "/", found in place), where every
 * token but `*` takes exactly one segment: on a mismatch only the last `*` seen takes one more
 * segment (the classic glob match, linear in space, segments × tokens in time at worst).
 */
function matchTokens(tokens: readonly Token[], path: string, end: number): boolean {
  const segmentEnd = (start: number) => {
    const slash = path.indexOf('/', start);
    return slash === -1 || slash >= end ? end : slash;
  };
  let t = 0;
  let s = 0; // start of the current segment; end + 1 once every segment is taken
  let star = -1; // index of the last * seen
  let resume = 0; // start of the segment that * takes next when the rest fails
  while (s <= end) {
    const e = segmentEnd(s);
    const token = tokens[t];
    if (token === STAR) {
      star = t++;
      s = resume = e + 1; // * takes at least one segment
    } else if (
      t < tokens.length &&
      (token === PARAM ? e > s : e - s === token!.length && path.startsWith(token as string, s))
    ) {
      t++;
      s = e + 1;
    } else if (star !== -1) {
      t = star + 1;
      s = resume = segmentEnd(resume) + 1;
    } else return false;
  }
  return t === tokens.length;
}
