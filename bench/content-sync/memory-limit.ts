// Runs a sidecar under a memory limit, as its pod would: a memory cgroup (v2 `memory.max`, or v1
// `memory.limit_in_bytes`) set to the limit the manifest gives the container. This matters for
// Node: it sizes V8's heap (the young generation above all) from the limit it finds, so the same
// process on a 24 GiB host with no limit keeps a much bigger heap than it does in its pod.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface MemoryLimit {
  readonly bytes: number;
  /** The command line that starts `cmd` inside the cgroup (a shell that joins it, then execs). */
  wrap(cmd: string, args: string[]): [string, string[]];
  /** Removes the cgroup (its processes must have exited). */
  remove(): Promise<void>;
}

/** `192Mi` → bytes (the Kubernetes quantities the manifests use). */
export function parseQuantity(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(q.trim());
  if (!m) throw new Error(`cannot read the memory quantity "${q}"`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

/** The memory limit of container `name` in a manifest file (the first one found). */
export function manifestMemoryLimit(file: string, name: string): string {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const spec = doc.toJS()?.spec;
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])])
      if (c.name === name && c.resources?.limits?.memory) return String(c.resources.limits.memory);
  }
  throw new Error(`${file} gives container "${name}" no memory limit`);
}

/**
 * A fresh memory cgroup limited to `bytes`, or the reason there cannot be one (not root, or no
 * memory controller), in which case the caller runs without a limit and says so.
 */
export function memoryCgroup(name: string, bytes: number): MemoryLimit | string {
  if (process.getuid?.() !== 0) return 'not root';
  const v2 = '/sys/fs/cgroup';
  const v1 = '/sys/fs/cgroup/memory';
  let dir: string;
  try {
    if (existsSync(join(v2, 'cgroup.controllers'))) {
      if (!readFileSync(join(v2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory'))
        return 'the cgroup v2 hierarchy has no memory controller';
      if (!readFileSync(join(v2, 'cgroup.subtree_control'), 'utf8').includes('memory'))
        writeFileSync(join(v2, 'cgroup.subtree_control'), '+memory');
      dir = join(v2, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.max'), String(bytes));
    } else if (existsSync(join(v1, 'memory.limit_in_bytes'))) {
      dir = join(v1, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(bytes));
    } else return 'no memory cgroup hierarchy at /sys/fs/cgroup';
  } catch (err) {
    return `cannot create a memory cgroup: ${(err as Error).message}`;
  }
  const procs = join(dir, 'cgroup.procs');
  return {
    bytes,
    // `sh -c '…' cmd args…`: $0 is cmd, "$@" its arguments; exec keeps the pid (and the process group).
    wrap: (cmd, args) => ['sh', ['-c', `echo $$ > ${procs} && exec "$0" "$@"`, cmd, ...args]],
    async remove() {
      for (let i = 0; ; i++) {
        try {
          rmdirSync(dir);
          return;
        } catch (err) {
          // EBUSY until the kernel has reaped the last process.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' || i >= 50) return;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
  };
}
