// A small file whose parsed content follows the file: a Secret volume's token, password or key set,
// replaced by the kubelet (a `..data` swap) or rotated in place. Looked at with one stat at most
// once a second, re-read and re-parsed when it changed; a file that cannot be read or parsed
// any more keeps the last good value (and says so through onError). Never logged.
import { readFileSync, statSync } from 'node:fs';

export class WatchedFile<T> {
  readonly path: string;
  readonly #parse: (text: string) => T;
  readonly #onError: (err: Error) => void;
  readonly #now: () => number;
  #value: T;
  #stamp: string;
  #checkedAt: number;

  /** Reads and parses once; throws (naming the file) when that fails: a start-up error. */
  constructor(
    path: string,
    parse: (text: string) => T,
    opts: { onError?: (err: Error) => void; now?: () => number } = {},
  ) {
    this.path = path;
    this.#parse = parse;
    this.#onError = opts.onError ?? (() => {});
    this.#now = opts.now ?? Date.now;
    this.#stamp = stampOf(path);
    this.#value = parse(readFileSync(path, 'utf8'));
    this.#checkedAt = this.#now();
  }

  /** The value, re-read first when a second has passed and the file changed. */
  get value(): T {
    const now = this.#now();
    if (now - this.#checkedAt >= 1000) {
      this.#checkedAt = now;
      this.#refresh();
    }
    return this.#value;
  }

  #refresh(): void {
    let stamp: string;
    try {
      stamp = stampOf(this.path);
    } catch (err) {
      this.#onError(err as Error);
      return;
    }
    if (stamp === this.#stamp) return;
    try {
      this.#value = this.#parse(readFileSync(this.path, 'utf8'));
      this.#stamp = stamp;
    } catch (err) {
      this.#onError(err as Error);
    }
  }
}

/** What changes when the file does: a swapped symlink resolves to another inode. */
function stampOf(path: string): string {
  const st = statSync(path);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}
