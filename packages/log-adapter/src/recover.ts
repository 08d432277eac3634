// At start-up, finds where the files named in the positions file are now. A log rotated while the
// adapter was stopped is no longer at its path: the old file is looked for in the same directory
// by device + inode (renamed: logrotate, web's own rotation), or, for copytruncate, as the copy
// whose bytes before the saved offset are the ones read there. What is found is finished from the
// saved offset before the file now at the path is read from its first line — as promtail and
// filebeat resume a rotated file.
import { closeSync, openSync, readdirSync, type Stats, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { matches, type Position, type SavedPositions } from './positions.ts';

export interface Recovery {
  /** By `dev:ino`: each saved file found, where it is now and where to resume it. */
  found: Map<string, { path: string; position: Position }>;
  /** Saved files found nowhere (deleted, or compressed, while the adapter was stopped). */
  lost: { path: string; position: Position }[];
}

interface Candidate {
  path: string;
  st: Stats;
}

export const fileKey = (st: { dev: number; ino: number }): string => `${st.dev}:${st.ino}`;

/** `wanted(path)`: whether a saved path is still one the adapter follows. */
export function recover(saved: SavedPositions, wanted: (path: string) => boolean): Recovery {
  const out: Recovery = { found: new Map(), lost: [] };
  const listings = new Map<string, Candidate[]>();
  const list = (dir: string): Candidate[] => {
    let found = listings.get(dir);
    if (found) return found;
    found = [];
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      // The directory is gone: nothing to find in it.
    }
    for (const name of names) {
      const path = join(dir, name);
      const st = stat(path);
      if (st?.isFile()) found.push({ path, st });
    }
    listings.set(dir, found);
    return found;
  };

  const entries = [
    ...[...saved.files].map(([path, position]) => ({ path, position })),
    ...saved.rotated.map(({ path, ...position }) => ({ path, position })),
  ].filter((e) => wanted(e.path));
  const claim = (e: (typeof entries)[number], c: Candidate) => {
    out.found.set(fileKey(c.st), {
      path: c.path,
      position: { ...e.position, dev: c.st.dev, ino: c.st.ino },
    });
  };
  const open = (e: (typeof entries)[number]) =>
    list(dirname(e.path)).filter((c) => !out.found.has(fileKey(c.st)) && c.st.size >= e.position.offset);

  // The same file (device + inode), at its path or renamed beside it; then, for what is left, a
  // copytruncate's copy: another inode holding the same bytes before the offset.
  const left = entries.filter((e) => {
    const p = e.position;
    const same = open(e).find((c) => c.st.dev === p.dev && c.st.ino === p.ino && holds(c.path, p));
    if (same) claim(e, same);
    return !same;
  });
  for (const e of left) {
    const copy = e.position.check ? open(e).find((c) => holds(c.path, e.position)) : undefined;
    if (copy) claim(e, copy);
    else out.lost.push(e);
  }
  return out;
}

function stat(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** The file at path holds the bytes read before the position's offset. */
function holds(path: string, p: Position): boolean {
  if (!p.check) return true;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    return matches(fd, p);
  } finally {
    closeSync(fd);
  }
}
