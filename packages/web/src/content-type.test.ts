import { describe, expect, it } from 'vitest';
import { compressible, contentType, extensionOf } from './content-type.ts';

const utf8 = (t: string) => `${t}; charset=utf-8`;

describe('contentType', () => {
  it('answers the types web always served, charset included', () => {
    const served: Record<string, string> = {
      html: utf8('text/html'),
      htm: utf8('text/html'),
      css: utf8('text/css'),
      js: utf8('text/javascript'),
      mjs: utf8('text/javascript'),
      json: utf8('application/json'),
      map: utf8('application/json'),
      webmanifest: utf8('application/manifest+json'),
      xml: utf8('application/xml'),
      txt: utf8('text/plain'),
      md: utf8('text/markdown'),
      csv: utf8('text/csv'),
      svg: utf8('image/svg+xml'),
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
    for (const [ext, type] of Object.entries(served)) expect(contentType(`/a/file.${ext}`), ext).toBe(type);
  });

  it('knows what mime-db knows beyond them', () => {
    expect(contentType('/config.yaml')).toBe(utf8('text/yaml'));
    expect(contentType('/cal/events.ics')).toBe(utf8('text/calendar'));
    expect(contentType('/books/a.epub')).toBe('application/epub+zip');
    expect(contentType('/models/chair.glb')).toBe('model/gltf-binary');
    expect(contentType('/subs/en.vtt')).toBe(utf8('text/vtt'));
    expect(contentType('/FEED.RSS')).toBe('application/rss+xml');
  });

  it('keeps nginx’s answer where its mime.types differs from mime-db', () => {
    expect(contentType('/setup.exe')).toBe('application/octet-stream');
    expect(contentType('/disk.iso')).toBe('application/octet-stream');
    expect(contentType('/song.m4a')).toBe('audio/x-m4a');
    expect(contentType('/a.rar')).toBe('application/x-rar-compressed');
  });

  it('falls back to application/octet-stream, for unknown extensions and names without one', () => {
    expect(contentType('/blob.nosuchtype')).toBe('application/octet-stream');
    expect(contentType('/Makefile')).toBe('application/octet-stream');
    expect(contentType('/.hidden')).toBe('application/octet-stream');
    expect(contentType('/dir.d/file')).toBe('application/octet-stream');
  });
});

describe('extensionOf and compressible', () => {
  it('takes the last dot of the last segment, lower-cased', () => {
    expect(extensionOf('/a/b.Tar.GZ')).toBe('gz');
    expect(extensionOf('/a.b/c')).toBe('');
  });

  it('looks for .br/.gz siblings of text-like types, wasm and ttf only', () => {
    expect(compressible(contentType('/a.css'))).toBe(true);
    expect(compressible(contentType('/a.wasm'))).toBe(true);
    expect(compressible(contentType('/a.png'))).toBe(false);
  });
});
