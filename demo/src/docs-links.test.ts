// Every relative link in the guides (docs/*.md, demo/README.md) points at a file that exists,
// and every #anchor into a markdown file at one of its headings (GitHub's slugs).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './run.ts';

const pages = [
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(REPO_ROOT, 'docs', f)),
  join(REPO_ROOT, 'demo', 'README.md'),
];

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set(
    text
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) => slug(l.replace(/^#+ /, ''))),
  );
}

function links(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  const found = [...text.matchAll(/\]\(([^)\s]+)\)/g), ...text.matchAll(/^\[[^\]]+\]:\s*(\S+)/gm)];
  return found.map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
}

describe('links in the guides', () => {
  it('slugs headings as GitHub does', () => {
    expect(slug('A kind cluster for the walkthroughs')).toBe('a-kind-cluster-for-the-walkthroughs');
    expect(slug('content-sync (sidecar)')).toBe('content-sync-sidecar');
    expect(slug('`kubectl exec -c`, `kubectl logs -c`')).toBe('kubectl-exec--c-kubectl-logs--c');
  });

  for (const page of pages) {
    it(`${relative(REPO_ROOT, page)}: every relative link resolves`, () => {
      const broken: string[] = [];
      for (const link of links(page)) {
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path === '' ? page : resolve(dirname(page), path);
        if (!existsSync(target)) broken.push(`${link} (no such file)`);
        else if (anchor && target.endsWith('.md') && !anchors(target).has(anchor))
          broken.push(`${link} (no heading #${anchor})`);
      }
      expect(broken).toEqual([]);
    });
  }
});
