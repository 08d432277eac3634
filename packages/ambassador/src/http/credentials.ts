// Credentials at the edge, outbound: the app calls localhost with no secret of its own, and the
// ambassador adds the credential a pool's upstreams want — a token in a header (`Authorization:
// Bearer …`, `X-Api-Key: …`) or a basic pair — read from Secret files, re-read when they change,
// never logged. Any value of that header the app sent is replaced.
import { WatchedFile } from '../watched-file.ts';

export type CredentialsConfig =
  | { readonly header: string; readonly file: string; readonly prefix: string }
  | { readonly basic: { readonly usernameFile: string; readonly passwordFile: string } };

/** A Secret file's value: one line, its trailing newline dropped; refused if empty or multi-line. */
export function secretValue(text: string): string {
  const v = text.replace(/\r?\n$/, '');
  if (v === '') throw new Error('the file is empty');
  if (/[\r\n\0]/.test(v)) throw new Error('the value holds a line break or NUL (one line only)');
  return v;
}

export class OutboundCredentials {
  readonly header: string;
  readonly #value: () => string;

  /** Reads the files now; throws naming the file when one cannot be read or is empty. */
  constructor(config: CredentialsConfig, onError: (file: string, err: Error) => void = () => {}) {
    const watch = (file: string) => {
      try {
        return new WatchedFile(file, secretValue, { onError: (err) => onError(file, err) });
      } catch (err) {
        throw new Error(`${file}: ${(err as Error).message}`);
      }
    };
    if ('basic' in config) {
      const user = watch(config.basic.usernameFile);
      const pass = watch(config.basic.passwordFile);
      this.header = 'authorization';
      this.#value = () => `Basic ${Buffer.from(`${user.value}:${pass.value}`).toString('base64')}`;
    } else {
      const token = watch(config.file);
      this.header = config.header.toLowerCase();
      this.#value = () => `${config.prefix}${token.value}`;
    }
  }

  /** Replaces the header in a flat [name, value, …] list with the current credential. */
  apply(headers: string[]): void {
    for (let i = headers.length - 2; i >= 0; i -= 2)
      if (headers[i]!.toLowerCase() === this.header) headers.splice(i, 2);
    headers.push(this.header, this.#value());
  }
}
