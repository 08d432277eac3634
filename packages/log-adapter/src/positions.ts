// The positions file: for each tailed file, which file it was (device + inode), the offset just
// after the last whole line counted, and a checksum of the bytes before that offset (so a file
// emptied and refilled while the adapter was stopped is not taken for the one it read). Files
// rotated away but not finished are listed too, so a restart finishes them. Written atomically
// (temp file, fsync, rename) so a crash never leaves half a file.
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { crc32 } from 'node:zlib';

export interface Position {
  dev: number;
  ino: number;
  offset: number;
  /** CRC-32 of the `bytes` bytes just before offset (absent at offset 0). */
  check?: { bytes: number; crc32: number };
}

/** A file rotated away from `path` (the name it was read under) before it was finished. */
export interface RotatedPosition extends Position {
  path: string;
}

export type PositionMap = Map<string, Position>;

export interface SavedPositions {
  /** Path → the file last read at that path. */
  files: PositionMap;
  /** Files rotated away from their path and still being read when the positions were written. */
  rotated: RotatedPosition[];
  /** The positions file existed: a file it does not name appeared while the adapter was stopped. */
  existed: boolean;
}

interface FileShape {
  version: 1;
  files: Record<string, Position>;
  rotated?: RotatedPosition[];
}

/** How many bytes before the offset the check covers: a few log lines. */
export const CHECK_BYTES = 1024;

export class PositionsError extends Error {
  override name = 'PositionsError';
}

/** Reads the positions file; a missing file is an empty one, a corrupt one an error naming it. */
export function loadPositions(path: string): SavedPositions {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { files: new Map(), rotated: [], existed: false };
    throw new PositionsError(`cannot read positions file ${path}: ${(err as Error).message}`);
  }
  let data: FileShape;
  try {
    data = JSON.parse(text) as FileShape;
  } catch {
    throw new PositionsError(`positions file ${path} is not JSON; delete it to start afresh`);
  }
  const files: PositionMap = new Map();
  for (const [file, p] of Object.entries(data?.files ?? {})) {
    const pos = position(p);
    if (pos) files.set(file, pos);
  }
  const rotated: RotatedPosition[] = [];
  for (const r of Array.isArray(data?.rotated) ? data.rotated : []) {
    const pos = position(r);
    if (pos && typeof r.path === 'string') rotated.push({ path: r.path, ...pos });
  }
  return { files, rotated, existed: true };
}

function position(p: Partial<Position> | undefined): Position | null {
  if (!Number.isSafeInteger(p?.offset) || !Number.isSafeInteger(p?.ino) || !Number.isSafeInteger(p?.dev))
    return null;
  const out: Position = { dev: p!.dev!, ino: p!.ino!, offset: p!.offset! };
  const c = p!.check;
  if (Number.isSafeInteger(c?.bytes) && Number.isSafeInteger(c?.crc32))
    out.check = { bytes: c!.bytes, crc32: c!.crc32 };
  return out;
}

/** Writes the positions atomically: a reader sees the old file or the new one, never a mix. */
export function savePositions(path: string, saved: Pick<SavedPositions, 'files' | 'rotated'>): void {
  const data: FileShape = { version: 1, files: Object.fromEntries(saved.files), rotated: saved.rotated };
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, `${JSON.stringify(data, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/**
 * Fails now, at start-up, when the positions file could not be written later: what savePositions
 * does (a temp file beside it, renamed over it) is tried with an empty temp file, which is removed.
 */
export function checkWritable(path: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    closeSync(openSync(tmp, 'w', 0o644));
    rmSync(tmp);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new PositionsError(
      `${path} cannot be written (${e.code ?? e.message}); give a path on a writable volume, e.g. an emptyDir of its own`,
    );
  }
}

const scratch = Buffer.allocUnsafe(CHECK_BYTES);

/** The check of an open file at this offset, or undefined when there is nothing before it to check. */
export function checkAt(fd: number, offset: number): Position['check'] {
  const bytes = Math.min(offset, CHECK_BYTES);
  if (bytes === 0) return undefined;
  const n = readSync(fd, scratch, 0, bytes, offset - bytes);
  // Shorter than the offset: the file was truncated since; nothing left to check against.
  if (n !== bytes) return undefined;
  return { bytes, crc32: crc32(scratch.subarray(0, bytes)) };
}

/** Whether the open file holds, just before the position's offset, the bytes that were read there. */
export function matches(fd: number, p: Position): boolean {
  if (!p.check) return true;
  const now = checkAt(fd, p.offset);
  return now !== undefined && now.bytes === p.check.bytes && now.crc32 === p.check.crc32;
}
