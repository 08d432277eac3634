// Content-Type by file extension, with `charset=utf-8` for text types (as nginx's `charset utf-8`).

const TYPES: Record<string, string> = {
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  js: 'text/javascript',
  mjs: 'text/javascript',
  json: 'application/json',
  map: 'application/json',
  webmanifest: 'application/manifest+json',
  xml: 'application/xml',
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  bmp: 'image/bmp',
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  eot: 'application/vnd.ms-fontobject',
  pdf: 'application/pdf',
  wasm: 'application/wasm',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  txz: 'application/x-xz',
};

const TEXTUAL = new Set([
  'application/json',
  'application/manifest+json',
  'application/xml',
  'image/svg+xml',
  'text/javascript',
]);

export function extensionOf(path: string): string {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  return dot > slash + 1 ? path.slice(dot + 1).toLowerCase() : '';
}

export function contentType(path: string): string {
  const type = TYPES[extensionOf(path)] ?? 'application/octet-stream';
  return type.startsWith('text/') || TEXTUAL.has(type) ? `${type}; charset=utf-8` : type;
}

/** Worth looking for a .br/.gz sibling: text-like types (images and fonts are already compressed). */
export function compressible(type: string): boolean {
  return type.includes('charset=') || type === 'application/wasm' || type === 'font/ttf';
}
