// ADAPTER_FORMAT → a parser: web (default), combined, common, json, an nginx log_format string,
// or `regex:` followed by a regular expression with named groups.
import { combinedParser, commonParser, webParser } from './combined.ts';
import { type JsonMapping, jsonParser } from './json.ts';
import { isNginxFormat, nginxFormatParser } from './nginx-format.ts';
import type { Parser } from './record.ts';
import { regexParser } from './regex.ts';

export type { LineRecord, Parser } from './record.ts';

export const FORMAT_NAMES = ['web', 'combined', 'common', 'json'] as const;

export type FormatSpec =
  | { kind: (typeof FORMAT_NAMES)[number] }
  | { kind: 'nginx'; format: string }
  | { kind: 'regex'; source: string };

/** Reads the setting's text; throws an Error saying what is wrong. */
export function parseFormatSpec(text: string): FormatSpec {
  const name = text.trim();
  if ((FORMAT_NAMES as readonly string[]).includes(name))
    return { kind: name as (typeof FORMAT_NAMES)[number] };
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

export function createParser(spec: FormatSpec, json: JsonMapping): Parser {
  switch (spec.kind) {
    case 'web':
      return webParser();
    case 'combined':
      return combinedParser();
    case 'common':
      return commonParser();
    case 'json':
      return jsonParser(json);
    case 'nginx':
      return nginxFormatParser(spec.format);
    case 'regex':
      return regexParser(spec.source);
  }
}
