// The positions file: for each tailed file, which file it was (device + inode) and the offset just
// after the last whole line counted. Written atomically (temp file, fsync, rename) so a crash never
// leaves half a file, and read at start so a restart resumes exactly where the last run stopped.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

export interface Position {
  dev: number;
  ino: number;
  offset: number;
}

export type PositionMap = Map<string, Position>;

interface FileShape {
  version: 1;
  files: Record<string, Position>;
}

export class PositionsError extends Error {
  override name = 'PositionsError';
}

/** Reads the positions file; a missing file is an empty map, a corrupt one an error naming it. */
export function loadPositions(path: string): PositionMap {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new PositionsError(`cannot read positions file ${path}: ${(err as Error).message}`);
  }
  let data: FileShape;
  try {
    data = JSON.parse(text) as FileShape;
  } catch {
    throw new PositionsError(`positions file ${path} is not JSON; delete it to start afresh`);
  }
  const out: PositionMap = new Map();
  for (const [file, p] of Object.entries(data?.files ?? {})) {
    if (Number.isSafeInteger(p?.offset) && Number.isSafeInteger(p?.ino) && Number.isSafeInteger(p?.dev))
      out.set(file, { dev: p.dev, ino: p.ino, offset: p.offset });
  }
  return out;
}

/** Writes the map atomically: a reader sees the old file or the new one, never a mix. */
export function savePositions(path: string, positions: PositionMap): void {
  const data: FileShape = { version: 1, files: Object.fromEntries(positions) };
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
