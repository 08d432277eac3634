// Authenticated .tar.gz sources against real servers: basic auth, a bearer token and a headers file
// read from files (and read again when a Secret rotates them), a TLS server whose certificate a
// private CA signed, credentials never carried to another origin, and never written to the log.
import { readFileSync, writeFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { closeServer, listen, renderMetrics, SettingError } from '@multipod/service';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CredentialSettings, Credentials } from './credentials.ts';
import {
  currentTree,
  makeSyncer,
  makeTarGz,
  removeDir,
  snapshotIds,
  type TestSyncer,
  tempDir,
} from './testing.ts';

const TLS = join(import.meta.dirname, '../testdata/tls');

let root: string;
let target: string;
let running: TestSyncer | undefined;
const servers: Server[] = [];
/** What the servers were asked, in order: which server, and the Authorization it got. */
const asked: Array<{ server: string; authorization: string | undefined; apiKey: string | undefined }> = [];
let version = 'v1';

/** A server that serves the archive only to a request `allowed` lets through (else 401). */
async function serve(
  name: string,
  allowed: (req: IncomingMessage) => boolean,
  opts: { tls?: boolean; redirectTo?: () => string } = {},
): Promise<string> {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    asked.push({
      server: name,
      authorization: req.headers.authorization,
      apiKey: req.headers['x-api-key'] as string | undefined,
    });
    if (opts.redirectTo) {
      res.writeHead(302, { location: opts.redirectTo() }).end();
      return;
    }
    if (!allowed(req)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="site"' }).end('no');
      return;
    }
    const body = makeTarGz([{ path: 'index.html', body: version }]);
    res.writeHead(200, { 'content-length': body.length }).end(body);
  };
  const server = opts.tls
    ? createHttpsServer(
        { cert: readFileSync(join(TLS, 'server.pem')), key: readFileSync(join(TLS, 'server.key')) },
        handler,
      )
    : createHttpServer(handler);
  servers.push(server);
  const port = await listen(server, { port: 0, host: '127.0.0.1', setting: 'test' });
  return `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/site.tar.gz`;
}

beforeAll(() => {
  root = tempDir('auth');
});
afterAll(async () => {
  for (const s of servers) await closeServer(s);
  removeDir(root);
});
beforeEach(() => {
  target = join(root, `www-${Math.random().toString(36).slice(2)}`);
  asked.length = 0;
  version = 'v1';
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

/** A secret file in the temp dir (as a Secret volume holds one). */
const secret = (name: string, text: string) => {
  const p = join(root, name);
  writeFileSync(p, text);
  return p;
};

const syncer = async (url: string, settings: CredentialSettings = {}) => {
  running = makeSyncer({ kind: 'archive', url }, { target }, { credentials: new Credentials(settings) });
  await running.syncer.prepare();
  return running;
};

const errorsBy = async (t: TestSyncer, reason: string) =>
  Number(
    new RegExp(`^content_sync_errors_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(
      (await renderMetrics(t.syncer.metrics.registry, undefined)).body,
    )?.[1],
  );

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('credentials from files', () => {
  it('basic auth: published with the right password; a wrong one is a clear error, nothing published, never logged', async () => {
    const url = await serve('basic', (req) => req.headers.authorization === basic('deploy', 'right horse'));
    const wrong = await syncer(url, {
      username: 'deploy',
      passwordFile: secret('pw-wrong', 'battery staple\n'),
    });
    const refused = await wrong.syncer.syncNow();
    expect(refused.result).toBe('error');
    expect(refused.error).toMatch(
      /answered 401 Unauthorized \(the credentials of --username \/ SYNC_USERNAME and --password-file \/ SYNC_PASSWORD_FILE were refused\)/,
    );
    expect(snapshotIds(target)).toEqual([]);
    expect(await errorsBy(wrong, 'auth')).toBe(1);
    expect(JSON.stringify(wrong.logs)).not.toMatch(/battery|YmF0dGVyeQ|ZGVwbG95OmJhdHRlcnk/);
    await wrong.stop();

    const right = await syncer(url, { username: 'deploy', passwordFile: secret('pw', 'right horse\n') });
    expect((await right.syncer.syncNow()).result).toBe('published');
    expect(currentTree(target)).toEqual({ 'index.html': 'v1' });
    expect(asked.at(-1)?.authorization).toBe(basic('deploy', 'right horse')); // the newline was the editor's
  });

  it('a source that asks for credentials when none are set says which settings give them', async () => {
    const url = await serve('locked', () => false);
    const t = await syncer(url);
    const outcome = await t.syncer.syncNow();
    expect(outcome.error).toMatch(
      /answered 401 Unauthorized \(it asks for credentials: --username \/ SYNC_USERNAME/,
    );
    expect(await errorsBy(t, 'auth')).toBe(1);
  });

  it('a bearer token file rotated by its Secret is read again at the next sync, without a restart', async () => {
    let valid = 'token-1';
    const url = await serve('bearer', (req) => req.headers.authorization === `Bearer ${valid}`);
    const file = secret('token', 'token-1\n');
    const t = await syncer(url, { bearerTokenFile: file });
    expect((await t.syncer.syncNow()).result).toBe('published');
    valid = 'token-2';
    version = 'v2';
    expect((await t.syncer.syncNow()).error).toMatch(/401/);
    writeFileSync(file, 'token-2');
    expect((await t.syncer.syncNow()).result).toBe('published');
    expect(currentTree(target)).toEqual({ 'index.html': 'v2' });
  });

  it('a headers file: each "Name: value" line is sent', async () => {
    const url = await serve('headers', (req) => req.headers['x-api-key'] === 'k-123');
    const file = secret('headers', '# the CDN key\nX-Api-Key: k-123\n\n');
    const t = await syncer(url, { headersFile: file });
    expect((await t.syncer.syncNow()).result).toBe('published');
  });

  it('a redirect to another origin does not carry the credentials there', async () => {
    const other = await serve('other', () => true);
    const url = await serve('first', () => true, { redirectTo: () => other });
    const t = await syncer(url, { bearerTokenFile: secret('token-redirect', 'only-for-first') });
    expect((await t.syncer.syncNow()).result).toBe('published');
    expect(asked).toEqual([
      { server: 'first', authorization: 'Bearer only-for-first', apiKey: undefined },
      { server: 'other', authorization: undefined, apiKey: undefined },
    ]);
  });

  it('a credentials file that breaks after start-up fails the sync and keeps the snapshot', async () => {
    const url = await serve('bearer-gone', (req) => req.headers.authorization === 'Bearer t');
    const file = secret('token-gone', 't');
    const t = await syncer(url, { bearerTokenFile: file });
    expect((await t.syncer.syncNow()).result).toBe('published');
    writeFileSync(file, '');
    const outcome = await t.syncer.syncNow();
    expect(outcome.error).toBe(`credentials: ${file} is empty`);
    expect(await errorsBy(t, 'auth')).toBe(1);
    expect(currentTree(target)).toEqual({ 'index.html': 'v1' });
  });
});

describe('a private CA (SYNC_CA_FILE)', () => {
  it('a server whose certificate the system CAs do not know is refused, with the setting to fix it', async () => {
    const url = await serve('tls', () => true, { tls: true });
    const t = await syncer(url);
    const outcome = await t.syncer.syncNow();
    expect(outcome.error).toMatch(
      /^https:\/\/127\.0\.0\.1:\d+\/site\.tar\.gz: its TLS certificate is not trusted: .*\(a private CA goes in --ca-file \/ SYNC_CA_FILE\)/,
    );
    expect(await errorsBy(t, 'refused')).toBe(1);
    expect(snapshotIds(target)).toEqual([]);
  });

  it('is trusted with the CA file', async () => {
    const url = await serve('tls-ok', () => true, { tls: true });
    const t = await syncer(url, { caFile: join(TLS, 'ca.pem') });
    expect((await t.syncer.syncNow()).result).toBe('published');
    expect(currentTree(target)).toEqual({ 'index.html': 'v1' });
  });
});

describe('credential settings, checked at start-up', () => {
  it.each<[CredentialSettings, RegExp]>([
    [
      { passwordFile: '/x' },
      /--password-file \/ SYNC_PASSWORD_FILE: "\/x" needs --username \/ SYNC_USERNAME too/,
    ],
    [{ username: 'u' }, /--username \/ SYNC_USERNAME: "u" needs --password-file/],
    [{ username: 'a:b', passwordFile: '/x' }, /holds a colon/],
    [
      { bearerTokenFile: '/nope/token' },
      /--bearer-token-file \/ SYNC_BEARER_TOKEN_FILE: "\/nope\/token": cannot read \/nope\/token \(ENOENT\)/,
    ],
    [{ caFile: '/nope/ca.pem' }, /--ca-file \/ SYNC_CA_FILE: .*cannot read/],
  ])('refuses %o', (settings, why) => {
    expect(() => new Credentials(settings)).toThrow(SettingError);
    expect(() => new Credentials(settings)).toThrow(why);
  });

  it('names the file and line of a bad header, never what the line holds', () => {
    const file = secret('bad-headers', 'X-Ok: 1\nAuthorization Bearer s3cr3t-value\n');
    const err = (() => {
      try {
        new Credentials({ headersFile: file });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toBe(
      `invalid setting --headers-file / SYNC_HEADERS_FILE: ${JSON.stringify(file)}: ${file} line 2 is not "Name: value"`,
    );
  });

  it('refuses a CA file without a certificate, an empty token, and two Authorization headers', () => {
    expect(() => new Credentials({ caFile: secret('not-ca', 'hello') })).toThrow(/holds no PEM certificate/);
    expect(() => new Credentials({ bearerTokenFile: secret('empty', '\n') })).toThrow(/is empty/);
    expect(
      () =>
        new Credentials({
          bearerTokenFile: secret('tok', 't'),
          headersFile: secret('h', 'Authorization: Bearer x'),
        }),
    ).toThrow(/sets Authorization, and so does --bearer-token-file/);
  });
});
