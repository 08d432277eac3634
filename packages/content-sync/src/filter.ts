// Which source paths are published: include/exclude globs, dotfiles, editor temp files.
import picomatch from 'picomatch';

export interface FilterOptions {
  include: readonly string[];
  exclude: readonly string[];
  dotfiles: boolean;
}

/** Editor and download leftovers that are never content: vim swap and 4913 probe, emacs, backups. */
const TEMP_FILE =
  /(^|\/)(?:[^/]*~|#[^/]*#|\.#[^/]*|[^/]*\.sw[a-p]|[^/]*\.swx|4913|\.subl[^/]*\.tmp|[^/]*\.crdownload)$/;

export interface Filter {
  /** Is a directory (path relative to the source, `/`-separated) walked at all? */
  dir(rel: string): boolean;
  /** Is a file published? */
  file(rel: string): boolean;
}

export function createFilter(opts: FilterOptions): Filter {
  const glob = { dot: true };
  const included = opts.include.length ? picomatch([...opts.include], glob) : () => true;
  const excluded = opts.exclude.length ? picomatch([...opts.exclude], glob) : () => false;
  const hidden = (name: string) => !opts.dotfiles && name.startsWith('.');
  const base = (rel: string) => rel.slice(rel.lastIndexOf('/') + 1);
  return {
    dir: (rel) => !hidden(base(rel)) && !excluded(rel) && !excluded(`${rel}/`),
    file: (rel) => !hidden(base(rel)) && !TEMP_FILE.test(rel) && included(rel) && !excluded(rel),
  };
}
