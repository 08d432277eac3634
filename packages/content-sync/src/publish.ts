// The atomic swap: TARGET/current is a relative symlink `.snapshots/<id>`, replaced by one rename,
// so a reader resolving it sees the old snapshot or the new one, never a mix.
import { lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { SettingError } from '@multipod/service';

const SNAPSHOTS = '.snapshots';
const CURRENT = 'current';

export function snapshotsDir(target: string): string {
  return join(target, SNAPSHOTS);
}

/**
 * Creates TARGET/.snapshots. A target that cannot be used (read-only, not ours: TARGET/current is
 * something other than our symlink) is a setting to change: one line naming it, exit 2.
 */
export function prepareTarget(target: string): void {
  const bad = (why: string) =>
    new SettingError(`invalid setting --target / SYNC_TARGET: ${JSON.stringify(target)}: ${why}`);
  const st = lstatSync(join(target, CURRENT), { throwIfNoEntry: false });
  if (st && !st.isSymbolicLink())
    throw bad(
      `${join(target, CURRENT)} exists and is not a symlink; content-sync owns it (move it away, or choose another target)`,
    );
  try {
    mkdirSync(join(target, SNAPSHOTS), { recursive: true, mode: 0o755 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw bad(`cannot create ${join(target, SNAPSHOTS)} (${e.code ?? e.message})`);
  }
}

/** The snapshot id TARGET/current points to, if any. */
export function currentId(target: string): string | undefined {
  try {
    const link = readlinkSync(join(target, CURRENT));
    const prefix = `${SNAPSHOTS}/`;
    return link.startsWith(prefix) ? link.slice(prefix.length) : undefined;
  } catch {
    return undefined;
  }
}

/** Points TARGET/current at .snapshots/<id> with one rename over the old link. */
export function swapCurrent(target: string, id: string): void {
  const tmp = join(target, `.current-${id}`);
  rmSync(tmp, { force: true });
  symlinkSync(`${SNAPSHOTS}/${id}`, tmp);
  try {
    renameSync(tmp, join(target, CURRENT));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
