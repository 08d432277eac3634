// Route templates turn raw paths into a bounded label: `/users/:id` matches /users/42,
// `/static/*` matches anything below /static/. The query string is ignored; no match is "other".

export const UNMATCHED_ROUTE = 'other';

export class Routes {
  readonly #routes: { template: string; re: RegExp }[];

  constructor(templates: readonly string[]) {
    this.#routes = templates.map((template) => ({ template, re: compileTemplate(template) }));
  }

  /** The template a path matches, or "other". */
  match(path: string | undefined): string {
    if (path === undefined) return UNMATCHED_ROUTE;
    const q = path.indexOf('?');
    const p = q === -1 ? path : path.slice(0, q);
    for (const r of this.#routes) if (r.re.test(p)) return r.template;
    return UNMATCHED_ROUTE;
  }
}

/** Throws when a template is not a path (so config errors name it). */
export function compileTemplate(template: string): RegExp {
  if (!template.startsWith('/')) throw new Error(`"${template}" is not a path template (start it with /)`);
  const parts = template.split('/').map((seg) => {
    if (seg === '*') return '.*';
    if (/^:[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) return '[^/]+';
    if (seg.startsWith(':')) throw new Error(`"${template}": "${seg}" is not a parameter like :id`);
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}/?$`);
}
