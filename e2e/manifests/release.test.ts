// Keeps the repository releasable between releases (docs/releasing.md): one version for the
// four images; every image tag a manifest or a doc names is that version, so a version bump that
// misses a file fails here; the changelog in Keep a Changelog's shape, every entry naming what it
// changes; every deprecated setting announced with the version that will refuse it, still ahead.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { version } from '../src/checks.ts';
import { repoRoot } from '../src/render.ts';

const COMPONENTS = ['web', 'content-sync', 'ambassador', 'log-adapter'];
const HEADINGS = ['Added', 'Changed', 'Deprecated', 'Removed', 'Fixed', 'Security'];
/** What an entry may say it changes: an image, or a part of the repository. */
const SCOPES = new Set([
  ...COMPONENTS,
  'manifests',
  'examples',
  'observability',
  'docs',
  'e2e',
  'demo',
  'bench',
  'images',
  'ci',
  'repo',
]);

const current = version('web');
const changelog = readFileSync(join(repoRoot, 'CHANGELOG.md'), 'utf8');

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (['node_modules', 'dist', 'testdata', 'results'].includes(f)) return [];
    return statSync(p).isDirectory() ? files(p, ext) : ext.test(f) ? [p] : [];
  });
}

/** Where users read image tags: every doc and manifest but the changelog, which is history. */
const published = [
  join(repoRoot, 'README.md'),
  ...files(join(repoRoot, 'docs'), /\.md$/),
  ...files(join(repoRoot, 'manifests'), /\.(md|ya?ml)$/),
  ...files(join(repoRoot, 'examples'), /\.(md|ya?ml)$/),
  ...files(join(repoRoot, 'observability'), /\.md$/),
  ...['e2e', 'demo', 'images'].map((d) => join(repoRoot, d, 'README.md')),
  ...COMPONENTS.map((c) => join(repoRoot, 'packages', c, 'README.md')),
];

const semver = (v: string) => v.split('.').map(Number) as [number, number, number];
const newer = (a: string, b: string) => {
  const [x, y] = [semver(a), semver(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
};

/** The changelog's `## ` sections: title and body. */
function sections(): { title: string; body: string }[] {
  return changelog
    .split(/^## /m)
    .slice(1)
    .map((s) => ({ title: s.slice(0, s.indexOf('\n')).trim(), body: s.slice(s.indexOf('\n') + 1) }));
}

describe('release hygiene', () => {
  it('the four images share one version', () => {
    expect(COMPONENTS.map((c) => [c, version(c)])).toEqual(COMPONENTS.map((c) => [c, current]));
  });

  it.each(published.map((f) => [relative(repoRoot, f), f]))(
    '%s names the images at that version',
    (_name, file) => {
      const text = readFileSync(file, 'utf8');
      const tags = [
        ...[...text.matchAll(/multipod-[a-z$<>{}-]+:(\d+\.\d+\.\d+)\b/g)].map((m) => m[1]),
        ...[...text.matchAll(/newTag: (\d+\.\d+\.\d+)\b/g)].map((m) => m[1]),
      ];
      expect(tags.filter((t) => t !== current)).toEqual([]);
    },
  );

  it('the changelog: [Unreleased] first, then releases newest first, the last one the current version', () => {
    const titles = sections().map((s) => s.title);
    expect(titles[0]).toBe('[Unreleased]');
    const released = titles.slice(1).map((t) => {
      const m = /^\[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$/.exec(t);
      if (!m?.[1]) throw new Error(`changelog heading "## ${t}": expected "## [X.Y.Z] - YYYY-MM-DD"`);
      return m[1];
    });
    expect(released[0]).toBe(current);
    for (let i = 1; i < released.length; i++)
      expect(newer(released[i - 1] ?? '', released[i] ?? '')).toBe(true);
  });

  it.each(sections().map((s) => [s.title, s.body]))(
    'changelog %s: Keep a Changelog headings, in order, each entry scoped',
    (_t, body) => {
      const headings = [...body.matchAll(/^### (.+)$/gm)].map((m) => m[1] ?? '');
      for (const h of headings) expect(HEADINGS, `### ${h}`).toContain(h);
      expect(headings).toEqual(HEADINGS.filter((h) => headings.includes(h))); // in order, each once
      for (const entry of body.split('\n').filter((l) => l.startsWith('- '))) {
        const scope = /^- \*\*([^*]+)\*\*: /.exec(entry)?.[1];
        expect(scope, `entry without a scope: ${entry.slice(0, 80)}`).toBeDefined();
        for (const s of scope?.split(', ') ?? [])
          expect(SCOPES, `scope ${s} in: ${entry.slice(0, 80)}`).toContain(s);
      }
    },
  );

  it('a deprecated setting is announced under Deprecated with the version that refuses it, still ahead', () => {
    const deprecatedRows = COMPONENTS.flatMap((c) =>
      readFileSync(join(repoRoot, 'packages', c, 'README.md'), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('|') && /\*\*Deprecated/.test(l))
        .map((l) => /`([A-Z][A-Z0-9_]+)`/.exec(l)?.[1] ?? l),
    );
    expect(deprecatedRows).toContain('AMBASSADOR_HTTP_ENGINE');
    const deprecatedSections = sections()
      .map((s) => /### Deprecated\n([\s\S]*?)(?=\n### |$)/.exec(s.body)?.[1] ?? '')
      .join('\n');
    for (const setting of deprecatedRows) {
      const entry = deprecatedSections.split('\n- ').find((e) => e.includes(setting));
      expect(entry, `${setting}: no entry under ### Deprecated`).toBeDefined();
      const refused = /refused\s+from\s+(\d+\.\d+\.\d+)/.exec(entry ?? '')?.[1];
      expect(refused, `${setting}: the entry names no "refused from X.Y.Z"`).toBeDefined();
    }
    // Every promise of a refusal still lies ahead: at that version the setting goes, with its text.
    for (const file of [...published, join(repoRoot, 'CHANGELOG.md')]) {
      const text = readFileSync(file, 'utf8');
      const unreleased = file.endsWith('CHANGELOG.md') ? (sections()[0]?.body ?? '') : text;
      for (const m of unreleased.matchAll(/(?:refused\s+from|until)\s+(\d+\.\d+\.\d+)/g))
        expect(
          newer(m[1] ?? '', current),
          `${relative(repoRoot, file)}: "${m[0]}" with version ${current}`,
        ).toBe(true);
    }
  });
});
