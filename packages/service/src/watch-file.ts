// Watches a file for changes, for components that reload it (a config, a certificate). A Kubernetes
// ConfigMap or Secret volume updates by swapping the `..data` symlink in the file's folder, so the
// folder is watched (not the file, whose inode never changes), events are debounced, and the caller
// compares content: onChange may fire when nothing changed. A slow poll catches what a watcher
// misses (fs.watch is not available everywhere, and a folder can be replaced under it).
import { type FSWatcher, watch } from 'node:fs';
import { dirname } from 'node:path';

export interface FileWatcher {
  close(): void;
}

export interface WatchFileOptions {
  /** Events within this many ms fire once (a `..data` swap is several renames). */
  debounceMs?: number;
  /** onChange also runs this often, whatever the watcher saw. */
  pollMs?: number;
}

export function watchFile(file: string, onChange: () => void, opts: WatchFileOptions = {}): FileWatcher {
  const debounceMs = opts.debounceMs ?? 150;
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
    timer.unref();
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, fire);
    watcher.on('error', () => {});
  } catch {
    // No watcher (e.g. the folder does not exist yet): the poll still works.
  }
  const poll = setInterval(onChange, opts.pollMs ?? 5000);
  poll.unref();
  return {
    close() {
      watcher?.close();
      clearInterval(poll);
      if (timer) clearTimeout(timer);
    },
  };
}
