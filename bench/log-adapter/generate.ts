// Writes a synthetic access log in web's format (nginx combined + request time), deterministic
// for a given seed, quickly: lines are built in a 1 MiB buffer and written in big chunks.
import { closeSync, openSync, writeSync } from 'node:fs';

const METHODS = ['GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE'];
const CODES = ['200', '200', '200', '200', '200', '200', '200', '304', '304', '404', '301', '500', '206'];
const PATHS = ['/', '/index.html', '/a.css', '/app.js', '/img/logo.png', '/api/users/42', '/favicon.ico'];
const AGENTS = [
  'curl/8.5.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)',
  'wrk/4.2',
];

/** Writes `lines` lines to `path`; with `agents` > 0, the user agent is one of that many distinct ones. */
export function generateLog(
  path: string,
  lines: number,
  opts: { seed?: number; combinedOnly?: boolean; agents?: number } = {},
): void {
  let x = opts.seed ?? 42;
  const rand = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  const fd = openSync(path, 'w');
  let chunk = '';
  for (let i = 0; i < lines; i++) {
    const method = METHODS[rand(METHODS.length)];
    const code = CODES[rand(CODES.length)];
    const p = PATHS[rand(PATHS.length)];
    const ua = opts.agents ? `agent-${i % opts.agents}` : AGENTS[rand(AGENTS.length)];
    const bytes = code === '304' ? 0 : rand(50_000);
    const rt = (rand(2000) / 1000).toFixed(3);
    chunk += `10.0.${rand(256)}.${rand(256)} - - [25/Nov/2026:13:55:02 +0000] "${method} ${p} HTTP/1.1" ${code} ${bytes} "-" "${ua}"${opts.combinedOnly ? '' : ` ${rt}`}\n`;
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
}

if (import.meta.main) {
  const [path, n] = process.argv.slice(2);
  generateLog(path ?? 'access.log', Number(n ?? 1000));
}
