// Watches the config file for changes. A Kubernetes ConfigMap volume updates by swapping the
// `..data` symlink in the file's folder, so the folder is watched (not the file), events are
// debounced, and the caller compares content; a slow poll catches anything a watcher misses.
import { type FSWatcher, watch } from 'node:fs';
import { dirname } from 'node:path';

export interface Watcher {
  close(): void;
}

export function watchConfig(
  file: string,
  onChange: () => void,
  opts: { debounceMs?: number; pollMs?: number } = {},
): Watcher {
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
    // No watcher (e.g. the folder vanished): the poll still works.
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
