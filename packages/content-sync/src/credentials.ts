// What a URL source (a git repository, a .tar.gz) is asked with: basic or bearer credentials and
// extra request headers, each read from a file (a Secret volume), and a CA to trust. The files are
// read again at every sync, so a rotated Secret applies at the next one with no restart; what they
// hold is never logged, and errors name the file, never a line of it. A file that cannot be read
// at start-up stops it (exit 2); one that breaks later fails the sync, and the last good snapshot
// stays.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { SettingError } from '@multipod/service';
import { SourceFailure } from './source-http.ts';

export interface CredentialSettings {
  username?: string | undefined;
  passwordFile?: string | undefined;
  bearerTokenFile?: string | undefined;
  headersFile?: string | undefined;
  caFile?: string | undefined;
}

const SETTINGS = {
  username: '--username / SYNC_USERNAME',
  passwordFile: '--password-file / SYNC_PASSWORD_FILE',
  bearerTokenFile: '--bearer-token-file / SYNC_BEARER_TOKEN_FILE',
  headersFile: '--headers-file / SYNC_HEADERS_FILE',
  caFile: '--ca-file / SYNC_CA_FILE',
} as const;

/** A header name as RFC 9110 allows it (a token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by the client itself; a file that sets them would break the exchange. */
const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'content-type']);

/** Why a file cannot be used; thrown as an error naming the setting and the file only. */
class FileProblem extends Error {}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new FileProblem(`cannot read ${file}${e.code ? ` (${e.code})` : ''}`);
  }
}

function password(file: string): string {
  const text = read(file).replace(/\r?\n$/, ''); // a trailing newline is the editor's, not the password's
  if (!text) throw new FileProblem(`${file} is empty`);
  return text;
}

function token(file: string): string {
  const text = read(file).trim();
  if (!text) throw new FileProblem(`${file} is empty`);
  if (/\s/.test(text)) throw new FileProblem(`${file} holds more than one word (a token has no spaces)`);
  return text;
}

/** `Name: value` lines; blank lines and lines starting with # are skipped. */
export function parseHeaders(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim() || line.trimStart().startsWith('#')) return;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    const value = colon > 0 ? line.slice(colon + 1).trim() : '';
    if (!HEADER_NAME.test(name) || !value)
      throw new FileProblem(`${file} line ${i + 1} is not "Name: value"`);
    if (RESERVED.has(name.toLowerCase()))
      throw new FileProblem(`${file} line ${i + 1} sets ${name}, which the request sets itself`);
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value))
      throw new FileProblem(`${file} line ${i + 1} holds a control character`);
    out[name.toLowerCase()] = value;
  });
  return out;
}

function certificates(file: string): string {
  const text = read(file);
  if (!/-----BEGIN CERTIFICATE-----/.test(text))
    throw new FileProblem(`${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return text;
}

export class Credentials {
  readonly #s: CredentialSettings;

  /** Checks every file once (start-up): a SettingError naming the setting otherwise. */
  constructor(s: CredentialSettings) {
    this.#s = s;
    if (s.passwordFile !== undefined && s.username === undefined)
      throw new SettingError(
        `invalid setting ${SETTINGS.passwordFile}: ${JSON.stringify(s.passwordFile)} needs ${SETTINGS.username} too (basic auth sends both; for a token, any name the server accepts, e.g. x-access-token)`,
      );
    if (s.username !== undefined && s.passwordFile === undefined)
      throw new SettingError(
        `invalid setting ${SETTINGS.username}: ${JSON.stringify(s.username)} needs ${SETTINGS.passwordFile} (the password or access token, from a file)`,
      );
    if (s.username?.includes(':'))
      throw new SettingError(
        `invalid setting ${SETTINGS.username}: ${JSON.stringify(s.username)} holds a colon, which basic auth cannot carry`,
      );
    if (s.bearerTokenFile !== undefined && s.passwordFile !== undefined)
      throw new SettingError(
        `invalid setting ${SETTINGS.bearerTokenFile}: ${JSON.stringify(s.bearerTokenFile)} and ${SETTINGS.passwordFile} both set the Authorization header; give one`,
      );
    for (const key of ['passwordFile', 'bearerTokenFile', 'headersFile', 'caFile'] as const) {
      const file = s[key];
      if (file === undefined) continue;
      try {
        if (key === 'caFile') certificates(file);
        else this.#read(key, file);
      } catch (err) {
        if (!(err instanceof FileProblem)) throw err;
        throw new SettingError(`invalid setting ${SETTINGS[key]}: ${JSON.stringify(file)}: ${err.message}`);
      }
    }
    const headers = s.headersFile ? this.#read('headersFile', s.headersFile) : {};
    if ('authorization' in headers && (s.passwordFile || s.bearerTokenFile))
      throw new SettingError(
        `invalid setting ${SETTINGS.headersFile}: ${JSON.stringify(s.headersFile)} sets Authorization, and so does ${s.passwordFile ? SETTINGS.passwordFile : SETTINGS.bearerTokenFile}; give one`,
      );
  }

  /** Which settings put an Authorization header on requests, for error messages; undefined: none. */
  get sends(): string | undefined {
    if (this.#s.passwordFile) return `${SETTINGS.username} and ${SETTINGS.passwordFile}`;
    if (this.#s.bearerTokenFile) return SETTINGS.bearerTokenFile;
    try {
      if (this.#s.headersFile && 'authorization' in this.#read('headersFile', this.#s.headersFile))
        return SETTINGS.headersFile;
    } catch {
      // Unreadable now: the sync that reads it says so.
    }
    return undefined;
  }

  /** Whether anything is configured (a directory source refuses all of it). */
  get any(): string | undefined {
    for (const key of Object.keys(SETTINGS) as Array<keyof typeof SETTINGS>)
      if (this.#s[key] !== undefined) return SETTINGS[key];
    return undefined;
  }

  /** The headers one file gives (read now); FileProblem when it cannot be used. */
  #read(key: 'passwordFile' | 'bearerTokenFile' | 'headersFile', file: string): Record<string, string> {
    switch (key) {
      case 'passwordFile':
        return {
          authorization: `Basic ${Buffer.from(`${this.#s.username}:${password(file)}`).toString('base64')}`,
        };
      case 'bearerTokenFile':
        return { authorization: `Bearer ${token(file)}` };
      default:
        return parseHeaders(read(file), file);
    }
  }

  /**
   * The headers to send now (files read again): SourceFailure('auth') when one cannot be read.
   * All of them count as secret: never carried by a redirect to another origin.
   */
  headers(): Record<string, string> {
    try {
      return {
        ...(this.#s.headersFile ? this.#read('headersFile', this.#s.headersFile) : {}),
        ...(this.#s.passwordFile ? this.#read('passwordFile', this.#s.passwordFile) : {}),
        ...(this.#s.bearerTokenFile ? this.#read('bearerTokenFile', this.#s.bearerTokenFile) : {}),
      };
    } catch (err) {
      if (err instanceof FileProblem) throw new SourceFailure(`credentials: ${err.message}`, 'auth');
      throw err;
    }
  }

  /** The CAs to trust for https: the system's plus SYNC_CA_FILE's (read again); undefined: the system's. */
  ca(): string[] | undefined {
    if (this.#s.caFile === undefined) return undefined;
    try {
      return [...rootCertificates, certificates(this.#s.caFile)];
    } catch (err) {
      if (err instanceof FileProblem) throw new SourceFailure(`${SETTINGS.caFile}: ${err.message}`, 'other');
      throw err;
    }
  }
}
