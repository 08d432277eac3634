// Content-Type by file extension from mime-db (through mime-types, as express's own `send` does),
// with `charset=utf-8` for text types (nginx's `charset utf-8`). Resolved once per extension, so a
// lookup costs a Map get; only extensions mime-db knows are remembered, so the memo stays bounded
// whatever the URLs say.
import mime from 'mime-types';

/**
 * Where nginx's mime.types (1.22) answers otherwise than mime-db, nginx's answer: downloads it
 * sends as plain octets, and its older names for a few types. And `.txz`, which mime-db lacks.
 */
const NGINX: Readonly<Record<string, string>> = {
  ico: 'image/x-icon',
  exe: 'application/octet-stream',
  dll: 'application/octet-stream',
  deb: 'application/octet-stream',
  dmg: 'application/octet-stream',
  iso: 'application/octet-stream',
  msi: 'application/octet-stream',
  rar: 'application/x-rar-compressed',
  prc: 'application/x-pilot',
  pdb: 'application/x-pilot',
  m4a: 'audio/x-m4a',
  ra: 'audio/x-realaudio',
  txz: 'application/x-xz',
};

/** Text-like types mime-db gives no charset: served with one all the same, as before. */
const TEXTUAL = new Set(['application/xml', 'image/svg+xml']);

const DEFAULT = 'application/octet-stream';
const byExtension = new Map<string, string>();

export function extensionOf(path: string): string {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  return dot > slash + 1 ? path.slice(dot + 1).toLowerCase() : '';
}

export function contentType(path: string): string {
  const ext = extensionOf(path);
  const known = byExtension.get(ext);
  if (known !== undefined) return known;
  const type = NGINX[ext] ?? (ext === '' ? false : mime.lookup(ext));
  if (type === false) return DEFAULT;
  const full = mime.charset(type) || TEXTUAL.has(type) ? `${type}; charset=utf-8` : type;
  byExtension.set(ext, full);
  return full;
}

/** Worth looking for a .br/.gz sibling: text-like types (images and fonts are already compressed). */
export function compressible(type: string): boolean {
  return type.includes('charset=') || type === 'application/wasm' || type === 'font/ttf';
}
