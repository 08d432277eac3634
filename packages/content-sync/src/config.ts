// Settings of content-sync: every one a flag and a SYNC_* variable, parsed once into a frozen object.
import {
  bool,
  commonSettings,
  duration,
  int,
  list,
  path,
  port,
  SettingError,
  type Settings,
  setting,
  size,
  text,
} from '@multipod/service';

export const settings = {
  source: setting(text('<dir|url>'), {
    flag: 'source',
    env: 'SYNC_SOURCE',
    required: true,
    help: 'What to publish: a directory (ConfigMap, Secret, PVC or hostPath mount), an http(s) URL of a .tar.gz, or a git repository as git+https://host/org/repo.git (git+http:// too).',
  }),
  ref: setting(text('<ref>'), {
    flag: 'ref',
    env: 'SYNC_REF',
    help: "git: the branch, tag or full commit id to publish (default: the branch the remote's HEAD names).",
  }),
  depth: setting(int(0, 1_000_000), {
    flag: 'depth',
    env: 'SYNC_DEPTH',
    default: '1',
    help: 'git: commits of history to fetch (1: only the one published); 0 = all.',
  }),
  gitRoot: setting(text('<path>'), {
    flag: 'git-root',
    env: 'SYNC_GIT_ROOT',
    help: 'git: publish only this folder of the repository (e.g. public); default: all of it.',
  }),
  target: setting(text('<dir>'), {
    flag: 'target',
    env: 'SYNC_TARGET',
    default: '/srv/www',
    help: 'Where snapshots go: TARGET/.snapshots/<id>, and TARGET/current, the symlink readers follow.',
  }),
  interval: setting(duration({ min: 100 }), {
    flag: 'interval',
    env: 'SYNC_INTERVAL',
    default: '1m',
    help: 'How often the archive URL or the git ref is polled, or the directory fully rescanned (a safety net under the watcher).',
  }),
  debounce: setting(duration({ max: 60_000 }), {
    flag: 'debounce',
    env: 'SYNC_DEBOUNCE',
    default: '10ms',
    help: 'Quiet time after the last change before a directory is synced (a burst of writes becomes one snapshot; at most 1s).',
  }),
  include: setting(list(text('<glob>')), {
    flag: 'include',
    env: 'SYNC_INCLUDE',
    default: '',
    help: 'Only publish files matching these globs (relative to the source, e.g. **/*.html); empty means all.',
  }),
  exclude: setting(list(text('<glob>')), {
    flag: 'exclude',
    env: 'SYNC_EXCLUDE',
    default: '',
    help: 'Never publish files or directories matching these globs (e.g. drafts/**,*.psd).',
  }),
  dotfiles: setting(bool(), {
    flag: 'dotfiles',
    env: 'SYNC_DOTFILES',
    default: 'false',
    help: 'Publish dotfiles too (.well-known…). Editor temp files (*~, *.swp, #x#) are never published.',
  }),
  once: setting(bool(), {
    flag: 'once',
    env: 'SYNC_ONCE',
    default: 'false',
    help: 'Sync once and exit: 0 when published, 1 with the reason when not (init-container use).',
  }),
  maxFailures: setting(int(0, 1_000_000), {
    flag: 'max-failures',
    env: 'SYNC_MAX_FAILURES',
    default: '0',
    help: '/healthz fails after this many consecutive failed syncs (so the kubelet restarts it); 0 = never.',
  }),
  pruneGrace: setting(duration(), {
    flag: 'prune-grace',
    env: 'SYNC_PRUNE_GRACE',
    default: '10s',
    help: 'How long a replaced snapshot is left alone for readers still in it; then it is deleted, or recycled into a later snapshot.',
  }),
  maxFiles: setting(int(1, 100_000_000), {
    flag: 'max-files',
    env: 'SYNC_MAX_FILES',
    default: '1000000',
    help: 'Refuse a source (an archive, a commit) with more files than this.',
  }),
  maxBytes: setting(size(), {
    flag: 'max-bytes',
    env: 'SYNC_MAX_BYTES',
    default: '2Gi',
    help: "Refuse an archive larger than this, compressed or unpacked (a tar bomb is refused, not unpacked); for git, a fetch or a commit's files larger than this.",
  }),
  httpTimeout: setting(duration({ min: 1 }), {
    flag: 'http-timeout',
    env: 'SYNC_HTTP_TIMEOUT',
    default: '30s',
    help: 'Deadline for one archive download, one request to a git server, or one webhook call.',
  }),
  webhookUrl: setting(text('<url>'), {
    flag: 'webhook-url',
    env: 'SYNC_WEBHOOK_URL',
    help: 'POSTed {"snapshot":"<id>"} after every publish (the first one too), so a main container can reload; for git also "commit", and the Gitsync-Hash header as git-sync sends it.',
  }),
  webhookRetries: setting(int(0, 100), {
    flag: 'webhook-retries',
    env: 'SYNC_WEBHOOK_RETRIES',
    default: '5',
    help: 'How many times a failed webhook call is retried, with exponential backoff from 250ms.',
  }),
  username: setting(text('<name>'), {
    flag: 'username',
    env: 'SYNC_USERNAME',
    help: 'git or archive URL: basic-auth user name, with --password-file (for an access token, any name the server takes, e.g. x-access-token).',
  }),
  passwordFile: setting(path(), {
    flag: 'password-file',
    env: 'SYNC_PASSWORD_FILE',
    help: 'git or archive URL: file holding the basic-auth password or access token (a Secret key); read again at every sync.',
  }),
  bearerTokenFile: setting(path(), {
    flag: 'bearer-token-file',
    env: 'SYNC_BEARER_TOKEN_FILE',
    help: 'git or archive URL: file holding a token sent as Authorization: Bearer <token>; read again at every sync.',
  }),
  headersFile: setting(path(), {
    flag: 'headers-file',
    env: 'SYNC_HEADERS_FILE',
    help: 'git or archive URL: file of request headers, one "Name: value" a line (e.g. Authorization: Bearer …, a CDN key); read again at every sync.',
  }),
  caFile: setting(path(), {
    flag: 'ca-file',
    env: 'SYNC_CA_FILE',
    help: 'PEM certificates trusted for https sources, besides the system CAs (a private CA); read again at every sync.',
  }),
  triggerTokenFile: setting(path(), {
    flag: 'trigger-token-file',
    env: 'SYNC_TRIGGER_TOKEN_FILE',
    help: "POST /sync on the admin port must carry this file's token (Authorization: Bearer <token>), else 401; unset: no token asked for.",
  }),
  adminPort: setting(port(), {
    flag: 'admin-port',
    env: 'SYNC_ADMIN_PORT',
    default: '8081',
    help: 'Port of /healthz, /readyz and /metrics.',
  }),
  adminHost: setting(text('<address>'), {
    flag: 'admin-host',
    env: 'SYNC_ADMIN_HOST',
    default: '0.0.0.0',
    help: 'Address the admin server listens on.',
  }),
  ...commonSettings('SYNC'),
};

export type Config = Settings<typeof settings>;

export type SourceKind =
  | { kind: 'dir'; path: string }
  | { kind: 'archive'; url: string }
  | {
      kind: 'git';
      /** The repository's http(s) URL (SYNC_SOURCE without `git+`). */
      url: string;
      ref: string | undefined;
      depth: number;
      /** Folder of the repository to publish, normalised ('' = all of it). */
      root: string;
    };

const bad = (setting: string, value: string, why: string) =>
  new SettingError(`invalid setting ${setting}: ${JSON.stringify(value)} ${why}`);
const SOURCE = '--source / SYNC_SOURCE';

/** Checks what a single setting cannot: the source's form (the target is checked by target.ts). */
export function resolveSource(
  config: Pick<Config, 'source' | 'webhookUrl'> & Partial<Pick<Config, 'ref' | 'depth' | 'gitRoot'>>,
): SourceKind {
  if (config.webhookUrl !== undefined && !/^https?:\/\/[^/]/.test(config.webhookUrl))
    throw new SettingError(
      `invalid setting --webhook-url / SYNC_WEBHOOK_URL: ${JSON.stringify(config.webhookUrl)} is not a URL (http or https)`,
    );
  const s = config.source;
  const source = sourceKind(s, config);
  if (source.kind !== 'git')
    for (const [setting, value] of [
      ['--ref / SYNC_REF', config.ref],
      ['--git-root / SYNC_GIT_ROOT', config.gitRoot],
    ] as const)
      if (value !== undefined)
        throw bad(setting, value, `applies to git sources only (git+https://…), and --source is ${s}`);
  return source;
}

function sourceKind(s: string, config: Partial<Pick<Config, 'ref' | 'depth' | 'gitRoot'>>): SourceKind {
  // scp-like git addresses (git@github.com:org/repo.git) are SSH.
  if (/^[\w.-]+@[\w.-]+:/.test(s) || /^(git\+)?ssh:\/\//i.test(s))
    throw bad(
      SOURCE,
      s,
      "is an SSH address; SSH is not supported: use the repository's https URL as git+https://… (with an access token instead of a deploy key)",
    );
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw bad(SOURCE, s, 'is not a valid URL');
    }
    if (url.username || url.password)
      throw bad(
        SOURCE,
        `${url.protocol}//…@${url.host}${url.pathname}`,
        'carries credentials in the URL, where they would show in logs and process listings: not accepted',
      );
    if (url.protocol === 'git+https:' || url.protocol === 'git+http:')
      return gitSource(s.slice('git+'.length), config);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw bad(
        SOURCE,
        s,
        'is not a directory or an http(s) URL of a .tar.gz (nor a git repository: git+https://host/org/repo.git)',
      );
    if (/\.git\/?$/.test(url.pathname))
      throw bad(SOURCE, s, `names a git repository: write it git+${s} (an http(s) URL is read as a .tar.gz)`);
    return { kind: 'archive', url: s };
  }
  if (!s.startsWith('/'))
    throw bad(SOURCE, s, 'is not an absolute directory path or an http(s) URL (nor a git+https:// URL)');
  return { kind: 'dir', path: s.replace(/\/+$/, '') || '/' };
}

function gitSource(url: string, config: Partial<Pick<Config, 'ref' | 'depth' | 'gitRoot'>>): SourceKind {
  const ref = config.ref;
  if (ref !== undefined) {
    // git check-ref-format, in short: what no branch or tag name can hold.
    if (/(^[-/.])|\.\.|[\s~^:?*[\\\x00-\x1f\x7f]|@\{|\/\/|[/.]$|\.lock$|^@$/.test(ref))
      throw bad('--ref / SYNC_REF', ref, 'is not a branch, tag or commit id (git check-ref-format)');
  }
  let root = '';
  if (config.gitRoot !== undefined) {
    const parts = config.gitRoot.split('/').filter((p) => p !== '' && p !== '.');
    if (config.gitRoot.startsWith('/') || parts.includes('..') || parts.some((p) => p === '.git'))
      throw bad(
        '--git-root / SYNC_GIT_ROOT',
        config.gitRoot,
        'is not a folder inside the repository (a relative path like public or site/dist)',
      );
    root = parts.join('/');
  }
  return { kind: 'git', url, ref, depth: config.depth ?? 1, root };
}
