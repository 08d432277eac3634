import { describe, expect, it } from 'vitest';
import {
  bool,
  duration,
  helpText,
  host,
  int,
  list,
  loadSettings,
  oneOf,
  port,
  SettingError,
  setting,
  size,
  text,
  url,
} from './settings.ts';

const specs = {
  port: setting(port(), { flag: 'port', env: 'T_PORT', default: '8080', help: 'Port.' }),
  timeout: setting(duration({ min: 1 }), {
    flag: 'timeout',
    env: 'T_TIMEOUT',
    default: '10s',
    help: 'Timeout.',
  }),
  maxSize: setting(size(), { flag: 'max-size', env: 'T_MAX_SIZE', default: '10Mi', help: 'Max size.' }),
  lineSize: setting(size({ min: 1, max: 64 * 2 ** 20 }), {
    flag: 'line-size',
    env: 'T_LINE_SIZE',
    default: '16Ki',
    help: 'Line size.',
  }),
  once: setting(bool(), { flag: 'once', env: 'T_ONCE', default: 'false', help: 'Once.' }),
  format: setting(oneOf(['combined', 'json'] as const), {
    flag: 'format',
    env: 'T_FORMAT',
    default: 'combined',
    help: 'Format.',
  }),
  source: setting(url(), { flag: 'source', env: 'T_SOURCE', help: 'Source.' }),
  tags: setting(list(text()), { flag: 'tags', env: 'T_TAGS', default: '', help: 'Tags.' }),
  name: setting(text(), { flag: 'name', env: 'T_NAME', required: true, help: 'Name.' }),
  workers: setting(int(1, 8), { flag: 'workers', env: 'T_WORKERS', default: '1', help: 'Workers.' }),
};

const load = (argv: string[], env: Record<string, string> = {}) =>
  loadSettings(specs, argv, { T_NAME: 'n', ...env });

describe('loadSettings', () => {
  it('applies defaults, parsed like user input', () => {
    const c = load([]);
    expect(c).toMatchObject({
      port: 8080,
      timeout: 10_000,
      maxSize: 10 * 2 ** 20,
      once: false,
      format: 'combined',
      tags: [],
    });
    expect(c.source).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads the environment, and flags win over it', () => {
    expect(load([], { T_PORT: '9000' }).port).toBe(9000);
    expect(load(['--port', '7000'], { T_PORT: '9000' }).port).toBe(7000);
    expect(load(['--port=7001'], { T_PORT: '9000' }).port).toBe(7001);
  });

  it('treats a bare boolean flag as true', () => {
    expect(load(['--once']).once).toBe(true);
    expect(load(['--once', '--port', '1']).once).toBe(true);
    expect(load(['--once', 'false']).once).toBe(false);
  });

  it('lets the kind say whether its flag may stand alone, whatever its placeholder reads', () => {
    const onOff = setting(
      { ...bool(), placeholder: '<on|off>' },
      { flag: 'verbose', env: 'T_V', help: 'V.' },
    );
    const { bare: _, ...valued } = bool();
    const needy = setting(valued, { flag: 'strict', env: 'T_S', help: 'S.' });
    expect(loadSettings({ onOff }, ['--verbose'], {}).onOff).toBe(true);
    expect(() => loadSettings({ needy }, ['--strict'], {})).toThrow(
      /flag --strict needs a value: true or false/,
    );
    expect(() => load(['--port'])).toThrow(/flag --port needs a value/);
  });

  it('treats an empty environment variable as unset', () => {
    expect(load([], { T_PORT: '' }).port).toBe(8080);
  });

  it.each([
    [['--port', 'http'], 'invalid setting --port / T_PORT: "http" is not an integer from 0 to 65535'],
    [['--port', '70000'], 'invalid setting --port / T_PORT: "70000" is not an integer from 0 to 65535'],
    [
      ['--timeout', '10'],
      'invalid setting --timeout / T_TIMEOUT: "10" is not a duration like 500ms, 10s or 2m, from 1ms to 596h31m23s647ms',
    ],
    [
      // Past what a Node.js timer can hold (it would be cut to 24.8 days with a warning).
      ['--timeout', '600h'],
      'invalid setting --timeout / T_TIMEOUT: "600h" is not a duration like 500ms, 10s or 2m, from 1ms to 596h31m23s647ms',
    ],
    [
      ['--max-size', 'huge'],
      'invalid setting --max-size / T_MAX_SIZE: "huge" is not a size like 512Ki, 10Mi, 1G or a number of bytes',
    ],
    [
      ['--line-size', '0'],
      'invalid setting --line-size / T_LINE_SIZE: "0" is not a size like 512Ki, 10Mi, 1G or a number of bytes, from 1 to 64Mi',
    ],
    [
      ['--line-size', '65Mi'],
      'invalid setting --line-size / T_LINE_SIZE: "65Mi" is not a size like 512Ki, 10Mi, 1G or a number of bytes, from 1 to 64Mi',
    ],
    [['--format', 'xml'], 'invalid setting --format / T_FORMAT: "xml" is not one of combined, json'],
    [['--source', 'ftp://x'], 'invalid setting --source / T_SOURCE: "ftp://x" is not a URL (http or https)'],
    [['--once', 'maybe'], 'invalid setting --once / T_ONCE: "maybe" is not true or false'],
    [['--nope', '1'], 'unknown flag --nope (see --help for the settings)'],
    [['port'], 'unexpected argument "port"; settings are --flag value (see --help)'],
    [['--port'], 'flag --port needs a value: an integer from 0 to 65535'],
  ])('%j is refused with one line naming it', (argv, message) => {
    expect(() => load(argv)).toThrow(new SettingError(message));
  });

  it('takes a duration up to the timer limit, and a stated maximum instead when given', () => {
    expect(load(['--timeout', '596h31m23s647ms']).timeout).toBe(2 ** 31 - 1);
    const long = {
      age: setting(duration({ max: 876_000 * 3_600_000 }), { flag: 'age', env: 'T_AGE', help: 'Age.' }),
    };
    expect(loadSettings(long, ['--age', '8760h'], {}).age).toBe(8760 * 3_600_000);
    expect(() => loadSettings(long, ['--age', '876001h'], {})).toThrow(
      'invalid setting --age / T_AGE: "876001h" is not a duration like 500ms, 10s or 2m, at most 876000h',
    );
  });

  it('takes an IP address or a host name to listen on, and refuses anything else', () => {
    const h = { host: setting(host(), { flag: 'host', env: 'T_HOST', default: '0.0.0.0', help: 'Host.' }) };
    for (const ok of [
      '0.0.0.0',
      '::',
      '127.0.0.1',
      '::1',
      'fe80::1',
      'localhost',
      'web-0.web.default.svc.',
      'my_host',
    ])
      expect(loadSettings(h, ['--host', ok], {}).host).toBe(ok);
    for (const bad of ['not a host', '999.1.1.1', '10.1', 'a..b', '-a', 'http://x', '[::1]', 'a/b'])
      expect(() => loadSettings(h, ['--host', bad], {})).toThrow(
        `invalid setting --host / T_HOST: ${JSON.stringify(bad)} is not an IP address or a host name (0.0.0.0, ::, 127.0.0.1, localhost)`,
      );
  });

  it('names a missing required setting', () => {
    expect(() => loadSettings(specs, [], {})).toThrow(
      'missing setting --name / T_NAME: give a non-empty string',
    );
  });

  it('lists every setting in --help with its variable and default', () => {
    const help = helpText('title', specs);
    for (const s of Object.values(specs)) {
      expect(help).toContain(`--${s.flag}`);
      expect(help).toContain(s.env);
    }
    expect(help).toMatch(/--port <port>\s+T_PORT\s+8080\s+Port\./);
    expect(help).toMatch(/--name <text>\s+T_NAME\s+\(required\)/);
  });
});
