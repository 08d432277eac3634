// ADAPTER_FORMAT → parsers: auto (the default: each file's format is detected from its lines), a
// stock format by name, json, an nginx log_format string, or `regex:` followed by a regular
// expression with named groups.
import { combinedParser, commonParser, vhostCombinedParser } from './combined.ts';
import { haproxyParser } from './haproxy.ts';
import { type JsonMapping, type JsonParser, jsonParser } from './json.ts';
import { isNginxFormat, nginxFormatParser } from './nginx-format.ts';
import type { Parser } from './record.ts';
import { regexParser } from './regex.ts';

export type { JsonMapping } from './json.ts';
export type { LineRecord, ParseResult, Parser } from './record.ts';
export { NOT_A_REQUEST } from './record.ts';

/** Names ADAPTER_FORMAT takes; `web` is an older name of `combined`. */
export const FORMAT_NAMES = [
  'auto',
  'combined',
  'web',
  'common',
  'vhost_combined',
  'traefik',
  'haproxy',
  'caddy',
  'ambassador',
  'json',
] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

export type FormatSpec =
  | { kind: FormatName }
  | { kind: 'nginx'; format: string }
  | { kind: 'regex'; source: string };

/** Reads the setting's text; throws an Error saying what is wrong. */
export function parseFormatSpec(text: string): FormatSpec {
  const name = text.trim();
  if ((FORMAT_NAMES as readonly string[]).includes(name)) return { kind: name as FormatName };
  if (name.startsWith('regex:')) {
    const source = name.slice('regex:'.length);
    regexParser(source);
    return { kind: 'regex', source };
  }
  if (isNginxFormat(name)) {
    nginxFormatParser(name);
    return { kind: 'nginx', format: name };
  }
  throw new Error('not a format name');
}

/** The parsers of one setting: one for a named format, every stock one (in order) for auto. */
export class Formats {
  readonly auto: boolean;
  /** Tried in this order on a line of unknown format; the first one of a name is that format's. */
  readonly parsers: readonly Parser[];
  /** Field names the formats give, or null when any name can be a field (json). */
  readonly fields: readonly string[] | null;
  readonly hasDuration: boolean;
  readonly #json: JsonParser[];

  constructor(spec: FormatSpec, json: JsonMapping) {
    this.auto = spec.kind === 'auto';
    this.#json = [];
    const track = (p: JsonParser) => {
      this.#json.push(p);
      return p;
    };
    this.parsers = this.auto ? stockParsers(json, track) : [namedParser(spec, json, track)];
    this.fields = this.#json.length > 0 ? null : [...new Set(this.parsers.flatMap((p) => p.fields))];
    this.hasDuration = this.parsers.some((p) => p.hasDuration);
  }

  /** The json field mapping from a reloaded ADAPTER_CONFIG. */
  remap(json: JsonMapping): void {
    for (const p of this.#json) p.remap(json);
  }
}

/**
 * Every stock format, in the order detection tries them. They read disjoint shapes of line (a
 * line is read by one of them only), except Traefik's, which is combined with a tail the combined
 * scanner recognises: a line is never counted under a guess.
 */
function stockParsers(json: JsonMapping, track: (p: JsonParser) => JsonParser): Parser[] {
  return [
    combinedParser(),
    vhostCombinedParser(),
    haproxyParser(),
    track(jsonParser(json, 'caddy')),
    track(jsonParser(json, 'ambassador')),
    track(jsonParser(json, 'json', { exclusive: true })),
  ];
}

function namedParser(spec: FormatSpec, json: JsonMapping, track: (p: JsonParser) => JsonParser): Parser {
  switch (spec.kind) {
    case 'combined':
    case 'web':
    case 'traefik':
      return combinedParser(spec.kind);
    case 'common':
      return commonParser();
    case 'vhost_combined':
      return vhostCombinedParser('vhost_combined');
    case 'haproxy':
      return haproxyParser();
    case 'caddy':
    case 'ambassador':
    case 'json':
      return track(jsonParser(json, spec.kind));
    case 'nginx':
      return nginxFormatParser(spec.format);
    case 'regex':
      return regexParser(spec.source);
    case 'auto':
      throw new Error('auto has no single parser');
  }
}
