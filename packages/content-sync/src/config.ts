// Settings of content-sync: every one a flag and a SYNC_* variable, parsed once into a frozen object.
import {
  bool,
  commonSettings,
  duration,
  int,
  list,
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
    help: 'What to publish: a directory (ConfigMap, Secret, PVC or hostPath mount) or an http(s) URL of a .tar.gz.',
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
    help: 'How often the archive URL is polled, or the directory fully rescanned (a safety net under the watcher).',
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
    help: 'Refuse a source (or archive) with more files than this.',
  }),
  maxBytes: setting(size(), {
    flag: 'max-bytes',
    env: 'SYNC_MAX_BYTES',
    default: '2Gi',
    help: 'Refuse an archive larger than this, compressed or unpacked (a tar bomb is refused, not unpacked).',
  }),
  httpTimeout: setting(duration({ min: 1 }), {
    flag: 'http-timeout',
    env: 'SYNC_HTTP_TIMEOUT',
    default: '30s',
    help: 'Deadline for one archive download or one webhook call.',
  }),
  webhookUrl: setting(text('<url>'), {
    flag: 'webhook-url',
    env: 'SYNC_WEBHOOK_URL',
    help: 'POSTed {"snapshot":"<id>"} after every publish (the first one too), so a main container can reload.',
  }),
  webhookRetries: setting(int(0, 100), {
    flag: 'webhook-retries',
    env: 'SYNC_WEBHOOK_RETRIES',
    default: '5',
    help: 'How many times a failed webhook call is retried, with exponential backoff from 250ms.',
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

export type SourceKind = { kind: 'dir'; path: string } | { kind: 'archive'; url: string };

/** Checks what a single setting cannot: the source's form (the target is checked by target.ts). */
export function resolveSource(config: Pick<Config, 'source' | 'webhookUrl'>): SourceKind {
  if (config.webhookUrl !== undefined && !/^https?:\/\/[^/]/.test(config.webhookUrl))
    throw new SettingError(
      `invalid setting --webhook-url / SYNC_WEBHOOK_URL: ${JSON.stringify(config.webhookUrl)} is not a URL (http or https)`,
    );
  const s = config.source;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new SettingError(
        `invalid setting --source / SYNC_SOURCE: ${JSON.stringify(s)} is not a valid URL`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new SettingError(
        `invalid setting --source / SYNC_SOURCE: ${JSON.stringify(s)} is not a directory or an http(s) URL of a .tar.gz`,
      );
    return { kind: 'archive', url: s };
  }
  if (!s.startsWith('/'))
    throw new SettingError(
      `invalid setting --source / SYNC_SOURCE: ${JSON.stringify(s)} is not an absolute directory path or an http(s) URL`,
    );
  return { kind: 'dir', path: s.replace(/\/+$/, '') || '/' };
}
