// Where content-sync may write, checked once at start: it creates TARGET/.snapshots and
// TARGET/current and deletes snapshots under TARGET/.snapshots, so a target that is not a directory
// of its own is refused with one line (exit 2) before anything is written. Refused: the root
// directory, kernel file systems (/proc, /sys, /dev, or a proc, sysfs, cgroup… mount anywhere),
// and a target that is, holds, or sits inside a directory source. Symlinks are resolved first, so
// a link to / is refused like / itself.
import { existsSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { SettingError } from '@multipod/service';
import type { SourceKind } from './config.ts';

const SETTING = '--target / SYNC_TARGET';
/** Mounted over by the kernel or the container runtime in every pod: never content. */
const KERNEL_PATHS = ['/proc', '/sys', '/dev'];
/** statfs(2) f_type of file systems that are views of the kernel (linux/magic.h). */
const KERNEL_FS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0xf97cff8c, 'selinuxfs'],
  [0xcafe4a11, 'bpf'],
  [0x62656570, 'configfs'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
  [0x65735543, 'fusectl'],
  [0x19800202, 'mqueue'],
  [0x42494e4d, 'binfmt_misc'],
  [0x6e736673, 'nsfs'],
]);

/** `path` with symlinks resolved as far as it exists; the part not created yet is kept as written. */
function realish(path: string): { real: string; existing: string } {
  let existing = resolve(path);
  const rest: string[] = [];
  while (!existsSync(existing) && dirname(existing) !== existing) {
    rest.unshift(basename(existing));
    existing = dirname(existing);
  }
  const real = realpathSync(existing);
  return { real: rest.length ? join(real, ...rest) : real, existing: real };
}

/** The kernel file system `path` is on (its nearest existing ancestor, really), if it is one. */
export function kernelFileSystem(path: string): string | undefined {
  const { real, existing } = realish(path);
  let type: number | undefined;
  try {
    type = statfsSync(existing).type;
  } catch {
    // Not readable: the path rules below still apply.
  }
  return (
    (type === undefined ? undefined : KERNEL_FS.get(type)) ??
    KERNEL_PATHS.find((p) => real === p || real.startsWith(`${p}/`))
  );
}

const inside = (child: string, parent: string) =>
  child === parent || child.startsWith(parent === sep ? parent : `${parent}${sep}`);

/** Throws a SettingError naming --target when content-sync must not write there. */
export function checkTarget(target: string, source: SourceKind): void {
  const shown = JSON.stringify(target);
  const { real } = realish(target);
  const via = real === resolve(target) ? '' : ` (it resolves to ${real})`;
  if (real === sep)
    throw new SettingError(
      `invalid setting ${SETTING}: ${shown}${via} is the root directory; give a directory of its own, e.g. the emptyDir mount /srv/www`,
    );
  const fs = kernelFileSystem(real);
  if (fs)
    throw new SettingError(
      `invalid setting ${SETTING}: ${shown}${via} is on a kernel file system (${fs}); give a directory on a volume, e.g. the emptyDir mount /srv/www`,
    );
  if (existsSync(real) && !statSync(real).isDirectory())
    throw new SettingError(`invalid setting ${SETTING}: ${shown}${via} exists and is not a directory`);
  if (source.kind === 'dir') {
    const src = realish(source.path).real;
    if (inside(real, src) || inside(src, real))
      throw new SettingError(
        `invalid setting ${SETTING}: ${shown}${via} overlaps --source ${source.path}${src === resolve(source.path) ? '' : ` (${src})`}; the target must live outside the source, and not hold it`,
      );
  }
}
