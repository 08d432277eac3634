// Resolves WEB_ROOT for a request that goes to disk: `current` may be swapped to another snapshot
// at any moment, so such a request works from the one real path it resolved (the file, its index,
// its .br/.gz siblings, the 404 page), and never mixes two snapshots.
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import type { Probe } from '@multipod/service';

/** The real path of the root right now, or null when it does not resolve (missing, dangling link). */
export function resolveRoot(root: string): string | null {
  try {
    return realpathSync.native(root);
  } catch {
    return null;
  }
}

/** Readiness: the root resolves to a directory this process can read. */
export function checkRoot(root: string): Probe {
  const real = resolveRoot(root);
  if (real === null) return { ok: false, reason: `root ${root} does not exist (waiting for content)` };
  try {
    if (!statSync(real).isDirectory())
      return { ok: false, reason: `root ${root} -> ${real} is not a directory` };
    accessSync(real, constants.R_OK | constants.X_OK);
  } catch (err) {
    return { ok: false, reason: `root ${root} -> ${real} is not readable: ${(err as Error).message}` };
  }
  return { ok: true, reason: `serving ${real}` };
}
