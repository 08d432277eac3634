// Turns a request target into a normalized path inside the root, or a clean 4xx: percent-decoding,
// `.`/`..` resolution that can never climb above `/`, and refusal of %2f, backslashes, NUL, dotfiles.

export type SafePath =
  | {
      ok: true;
      /** Normalized, decoded path starting with `/`, no trailing slash except for `/` itself. */
      rel: string;
      /** The URL named a directory (ended in `/`). */
      dir: boolean;
      /** The raw query string including `?`, or ''. */
      query: string;
    }
  | { ok: false; status: 400 | 404 | 414; reason: string };

/** Characters that need the slow path: escapes, backslashes, dot segments, double slashes. */
const NEEDS_WORK = /[%\\\0]|\/\.|\/\//;

export function safePath(url: string, opts: { maxPath: number; allowDotfiles: boolean }): SafePath {
  const q = url.indexOf('?');
  const raw = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  if (raw.length > opts.maxPath) return { ok: false, status: 414, reason: 'path too long' };
  if (raw.charCodeAt(0) !== 47 /* / */) return { ok: false, status: 400, reason: 'path must start with /' };
  if (!NEEDS_WORK.test(raw)) {
    // Fast path: plain segments, nothing to decode or resolve.
    const dir = raw.length > 1 && raw.endsWith('/');
    return { ok: true, rel: dir ? raw.slice(0, -1) : raw, dir: dir || raw === '/', query };
  }
  const parts = raw.split('/');
  const out: string[] = [];
  let dir = false;
  let dotfile = false;
  for (let i = 1; i < parts.length; i++) {
    const enc = parts[i]!;
    let seg: string;
    try {
      seg = enc.includes('%') ? decodeURIComponent(enc) : enc;
    } catch {
      return { ok: false, status: 400, reason: 'malformed percent-encoding' };
    }
    if (seg.includes('\0')) return { ok: false, status: 400, reason: 'NUL byte in path' };
    if (seg.includes('/')) return { ok: false, status: 400, reason: 'encoded slash (%2f) in path' };
    if (seg.includes('\\')) return { ok: false, status: 400, reason: 'backslash in path' };
    const last = i === parts.length - 1;
    if (seg === '' || seg === '.') {
      if (last) dir = true;
      continue;
    }
    if (seg === '..') {
      if (out.length === 0) return { ok: false, status: 400, reason: 'path climbs above the root' };
      out.pop();
      if (last) dir = true;
      continue;
    }
    if (seg.charCodeAt(0) === 46 /* . */) dotfile = true;
    out.push(seg);
  }
  // Checked after resolution so `/a/.x/../b` (which never touches .x on disk) is judged by what it names.
  if (dotfile && !opts.allowDotfiles && out.some((s) => s.charCodeAt(0) === 46))
    return { ok: false, status: 404, reason: 'dotfile' };
  return { ok: true, rel: `/${out.join('/')}`, dir: dir || out.length === 0, query };
}
