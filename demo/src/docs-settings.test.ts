// Docs and settings agree: every WEB_/SYNC_/AMBASSADOR_/ADAPTER_ setting a guide, a README or a
// manifest names is one its component's --help lists; every setting --help lists is in that
// component's README; and a settings table's default is the one --help prints. (The changelog is
// history and may name what is gone.)
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './run.ts';

const COMPONENTS = { WEB: 'web', SYNC: 'content-sync', AMBASSADOR: 'ambassador', ADAPTER: 'log-adapter' };
type Prefix = keyof typeof COMPONENTS;
const SETTING = /\b(WEB|SYNC|AMBASSADOR|ADAPTER)_[A-Z0-9]+(?:_[A-Z0-9]+)*\b/g;

/** The settings a text names, by prefix. */
function named(text: string): Set<string> {
  return new Set(text.match(SETTING) ?? []);
}

/** A component's --help: each setting's variable → its default as printed ("(unset)", "(required)"…). */
function helpSettings(component: string): Map<string, string> {
  const main = join(REPO_ROOT, 'packages', component, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`build the components first: pnpm build (${main} is missing)`);
  const help = execFileSync(process.execPath, [main, '--help'], { encoding: 'utf8' });
  const out = new Map<string, string>();
  for (const line of help.split('\n')) {
    // `  --flag <x>   ENV   default   help`: columns are two spaces or more apart.
    const [, , env, def] = line.split(/\s{2,}/);
    if (line.startsWith('  --') && env && /^[A-Z0-9_]+$/.test(env)) out.set(env, def ?? '');
  }
  return out;
}

/**
 * Rows of the markdown tables with a "default" column: the first setting named before that column,
 * and what the column says.
 */
function tableDefaults(text: string): { setting: string; doc: string }[] {
  const rows: { setting: string; doc: string }[] = [];
  let column = -1;
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) {
      column = -1;
      continue;
    }
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (column < 0) {
      column = cells.findIndex((c) => c.toLowerCase() === 'default');
      if (column < 0) column = -2; // a table without defaults: skip to its end
      continue;
    }
    if (column < 0 || /^-+$/.test(cells[0]?.replace(/[: ]/g, '-') ?? '')) continue;
    const setting = cells.slice(0, column).join(' ').match(SETTING)?.[0];
    if (setting) rows.push({ setting, doc: cells[column] ?? '' });
  }
  return rows;
}

/** Whether a table's default cell says what --help says: the first `code` in it, or words for none. */
function agrees(doc: string, help: string): boolean {
  if (/^\(required\)/.test(doc) || help === '(required)')
    return doc.startsWith('(required)') && help === '(required)';
  const none = help === '(unset)' || help === '""';
  // "(unset): `x`, or …": a default the component works out itself, said as such.
  if (/^\(unset\)/.test(doc)) return none;
  const code = /`([^`]*)`/.exec(doc)?.[1];
  if (code !== undefined) return code === help || (none && code === '');
  return none || /^\(see /.test(doc);
}

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (f === 'node_modules' || f === 'dist' || f === 'testdata') return [];
    return statSync(p).isDirectory() ? files(p, ext) : ext.test(f) ? [p] : [];
  });
}

const docs = [
  join(REPO_ROOT, 'README.md'),
  ...files(join(REPO_ROOT, 'docs'), /\.md$/),
  join(REPO_ROOT, 'demo', 'README.md'),
  join(REPO_ROOT, 'e2e', 'README.md'),
  ...Object.values(COMPONENTS).map((c) => join(REPO_ROOT, 'packages', c, 'README.md')),
  ...files(join(REPO_ROOT, 'manifests'), /\.(md|ya?ml)$/),
  ...files(join(REPO_ROOT, 'examples'), /\.(md|ya?ml)$/),
  ...files(join(REPO_ROOT, 'observability'), /\.(md|ya?ml)$/),
];

describe('settings named in the docs', () => {
  const help = new Map(Object.entries(COMPONENTS).map(([prefix, c]) => [prefix, helpSettings(c)]));

  it('finds settings in text', () => {
    expect([
      ...named('`WEB_ACCESS_LOG_MAX_SIZE` / `_KEEP`, SYNC_, <PREFIX>_LOG_LEVEL, content_sync_runs'),
    ]).toEqual(['WEB_ACCESS_LOG_MAX_SIZE']);
  });

  for (const doc of docs) {
    it(`${relative(REPO_ROOT, doc)}: each one is in its component's --help`, () => {
      const unknown = [...named(readFileSync(doc, 'utf8'))].filter(
        (s) => !help.get(s.split('_')[0] as Prefix)!.has(s),
      );
      expect(unknown).toEqual([]);
    });
  }

  for (const doc of docs.filter((d) => d.endsWith('.md'))) {
    it(`${relative(REPO_ROOT, doc)}: each settings table gives the default --help gives`, () => {
      const wrong = tableDefaults(readFileSync(doc, 'utf8'))
        .map(({ setting, doc: said }) => ({
          setting,
          said,
          help: help.get(setting.split('_')[0] as Prefix)!.get(setting),
        }))
        .filter((r) => r.help !== undefined && !agrees(r.said, r.help))
        .map((r) => `${r.setting}: the doc says ${r.said}, --help says ${r.help}`);
      expect(wrong).toEqual([]);
    });
  }

  for (const [prefix, component] of Object.entries(COMPONENTS)) {
    it(`packages/${component}/README.md names every setting of its --help`, () => {
      const readme = named(readFileSync(join(REPO_ROOT, 'packages', component, 'README.md'), 'utf8'));
      expect([...help.get(prefix)!.keys()].filter((s) => !readme.has(s))).toEqual([]);
    });
  }
});
