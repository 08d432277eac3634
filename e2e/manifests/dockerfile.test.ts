// The image recipe keeps its promises: pinned base, non-root numeric user, exec-form entrypoint,
// OCI labels, and the two targets (release build, offline prebuilt) sharing one runtime stage.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../src/render.ts';

const dockerfile = readFileSync(join(repoRoot, 'images/Dockerfile'), 'utf8');
const lines = dockerfile.split('\n').filter((l) => !l.trimStart().startsWith('#'));
const stage = (name: string): string => {
  const start = lines.findIndex((l) => new RegExp(`^FROM .* AS ${name}$`).test(l));
  expect(start, `stage ${name}`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('FROM '));
  return lines.slice(start, end === -1 ? undefined : end).join('\n');
};

describe('images/Dockerfile', () => {
  it('pins the distroless Node 24 base by digest, as a build argument', () => {
    expect(dockerfile).toMatch(
      /^ARG BASE_IMAGE=gcr\.io\/distroless\/nodejs24-debian12:nonroot@sha256:[0-9a-f]{64}$/m,
    );
    expect(dockerfile).toMatch(/DIGEST PIN/);
  });

  it('runs as uid 65532 with an exec-form entrypoint and no shell', () => {
    const runtime = stage('runtime-base');
    expect(runtime).toMatch(/^FROM \$\{BASE_IMAGE\} AS runtime-base$/m);
    expect(runtime).toMatch(/^USER 65532:65532$/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["\/nodejs\/bin\/node", "\/app\/main\.js"\]$/m);
    expect(runtime).not.toMatch(/^RUN /m);
  });

  it('labels the image the OCI way', () => {
    for (const key of ['title', 'description', 'source', 'licenses', 'version', 'revision']) {
      expect(stage('runtime-base')).toContain(`org.opencontainers.image.${key}=`);
    }
  });

  it('adds only the one bundled main.js, read-only, in both targets', () => {
    expect(stage('runtime-prebuilt')).toMatch(
      /^COPY --chmod=0444 packages\/\$\{COMPONENT\}\/dist\/main\.js \/app\/main\.js$/m,
    );
    expect(stage('runtime')).toMatch(
      /^COPY --from=build --chmod=0444 \/src\/packages\/\$\{COMPONENT\}\/dist\/main\.js \/app\/main\.js$/m,
    );
    // The release target is the last stage, so a plain `docker build` makes it.
    expect(lines.filter((l) => l.startsWith('FROM ')).pop()).toBe(`FROM node-\${COMPONENT} AS runtime`);
  });

  it('builds with the locked dependencies', () => {
    expect(stage('build')).toContain('pnpm install --frozen-lockfile');
  });

  it('starts both targets from a stage per component; only the log-adapter sets Node flags', () => {
    expect(lines).toContain('ARG COMPONENT');
    expect(stage('runtime-prebuilt')).toMatch(/^FROM node-\$\{COMPONENT\} AS runtime-prebuilt$/m);
    for (const c of ['web', 'content-sync', 'ambassador']) {
      expect(stage(`node-${c}`)).toBe(`FROM runtime-base AS node-${c}`);
    }
    expect(stage('node-log-adapter')).toMatch(/^ENV NODE_OPTIONS=--max-semi-space-size=2$/m);
  });
});
