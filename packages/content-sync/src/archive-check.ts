// Checks a .tar.gz before anything is unpacked: no absolute paths, no `..`, no links leaving the
// tree, only files, directories and links, and size and file-count limits (a tar bomb is refused
// while it is being read, not after it filled the disk). Reading is done by node-tar.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { posix } from 'node:path';
import { createGunzip, type Gunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';

export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

export interface ArchiveLimits {
  maxFiles: number;
  maxBytes: number;
}

export interface ArchiveSummary {
  files: number;
  bytes: number;
}

/**
 * More bytes of tar than this per byte of .tar.gz is a decompression bomb (node-tar's own bound):
 * refused as it is read, so a small download of zeros cannot keep a core busy for hours even where
 * its entries stay under --max-bytes (zeros after the end-of-archive blocks count for nothing).
 */
export const MAX_EXPANSION = 1000;

const ALLOWED = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);
// Metadata entries node-tar folds into the next header; they carry no content of their own.
const META = new Set([
  'ExtendedHeader',
  'GlobalExtendedHeader',
  'NextFileHasLongPath',
  'NextFileHasLongLinkpath',
  'OldGnuLongPath',
]);

/** Why an entry may not be unpacked, or undefined when it is fine. */
export function entryProblem(type: string, path: string, linkpath: string | undefined): string | undefined {
  if (!ALLOWED.has(type))
    return `entry ${JSON.stringify(path)} is a ${type}; only files, directories and links`;
  if (path.includes('\0')) return `entry ${JSON.stringify(path)} has a NUL byte in its name`;
  if (path.startsWith('/') || /^[a-zA-Z]:/.test(path))
    return `entry ${JSON.stringify(path)} has an absolute path`;
  if (path.split(/[/\\]/).includes('..'))
    return `entry ${JSON.stringify(path)} climbs out of the tree with ..`;
  if (type === 'SymbolicLink' || type === 'Link') {
    const target = linkpath ?? '';
    if (target === '' || target.startsWith('/'))
      return `link ${JSON.stringify(path)} points to ${JSON.stringify(target)}, outside the tree`;
    // A symlink's target is relative to its directory; a hard link's to the archive root.
    const base = type === 'SymbolicLink' ? posix.dirname(posix.normalize(path)) : '.';
    const resolved = posix.normalize(posix.join(base, target));
    if (resolved === '..' || resolved.startsWith('../'))
      return `link ${JSON.stringify(path)} points to ${JSON.stringify(target)}, outside the tree`;
    // As for entry names (and as GNU tar and node-tar's unpack do): a hard link names its target
    // from the archive root, where `..` has no business. A symlink's `../css/a.css` is ordinary.
    if (type === 'Link' && target.split(/[/\\]/).includes('..'))
      return `hard link ${JSON.stringify(path)} points to ${JSON.stringify(target)}, a name with ..`;
  }
  return undefined;
}

/** Reads the whole archive (headers and data) and throws ArchiveError at the first problem. */
export function checkArchive(
  file: string,
  limits: ArchiveLimits,
  signal?: AbortSignal,
): Promise<ArchiveSummary> {
  let files = 0;
  let bytes = 0;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const input = createReadStream(file);
    let done = false;
    let gunzip: Gunzip | undefined;
    const stop = (err: Error) => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      input.destroy();
      gunzip?.destroy();
      parser.abort(err);
      reject(err);
    };
    const fail = (message: string) => stop(new ArchiveError(message));
    // Shutting down: stop reading; the caller is told by the signal's reason.
    const onAbort = () =>
      stop(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason)));
    signal?.addEventListener('abort', onAbort, { once: true });
    const parser = new Parser({
      strict: true,
      onReadEntry: (e: ReadEntry) => {
        e.resume();
        if (done || META.has(e.type)) return;
        const bad = entryProblem(e.type, e.header.path ?? e.path, e.linkpath);
        files += 1;
        bytes += e.size ?? 0;
        if (bad) fail(bad);
        else if (files > limits.maxFiles)
          fail(`tar bomb refused: more than ${limits.maxFiles} entries (--max-files / SYNC_MAX_FILES)`);
        else if (bytes > limits.maxBytes)
          fail(
            `tar bomb refused: unpacks to more than ${limits.maxBytes} bytes (--max-bytes / SYNC_MAX_BYTES)`,
          );
      },
    });
    // Entry types node-tar does not know are skipped by its unpack without a word (GNU tar would
    // write them as files): refused, so that no part of a site goes missing unseen.
    parser.on('ignoredEntry', (e: ReadEntry) => {
      files += 1;
      fail(
        entryProblem(e.type, e.header.path ?? e.path, e.linkpath) ??
          `entry ${JSON.stringify(e.path)} cannot be unpacked`,
      );
    });
    const broken = (err: NodeJS.ErrnoException) =>
      fail(`archive is damaged or truncated: ${err.message}${err.code ? ` (${err.code})` : ''}`);
    parser.on('error', broken);
    input.on('error', broken);
    const finish = () => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      resolve({ files, bytes });
    };
    parser.on('end', finish);
    // After the end-of-archive blocks nothing is unpacked (unpack.ts stops there too), and node-tar
    // buffers what follows by copying it whole per chunk: megabytes of trailing zeros cost minutes.
    parser.on('eof', () => {
      finish();
      input.destroy();
      gunzip?.destroy();
    });
    if (!isGzip(file)) {
      input.pipe(parser); // a plain .tar is fine too
      return;
    }
    // Decompressed here rather than by the parser, to measure the expansion and name a bomb.
    let compressed = 0;
    let expanded = 0;
    gunzip = createGunzip();
    input.on('data', (chunk: string | Buffer) => {
      compressed += chunk.length;
    });
    gunzip.on('data', (chunk: Buffer) => {
      expanded += chunk.length;
      if (expanded > MAX_EXPANSION * compressed)
        fail(
          `tar bomb refused: it expands more than ${MAX_EXPANSION} times (${compressed} bytes read gave ${expanded})`,
        );
    });
    gunzip.on('error', broken);
    input.pipe(gunzip).pipe(parser);
  });
}

/** Whether `file` starts with gzip's magic bytes (else it is read as a plain tar). */
export function isGzip(file: string): boolean {
  const head = Buffer.alloc(2);
  const fd = openSync(file, 'r');
  try {
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}
