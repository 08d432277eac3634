// A user's regular expression with named groups: `regex:^(?<remote_addr>\S+) … (?<status>\d{3})`.
import { RegexParser } from './regex-parser.ts';

export class RegexFormatError extends Error {
  override name = 'RegexFormatError';
}

export function regexParser(source: string): RegexParser {
  let re: RegExp;
  try {
    re = new RegExp(source);
  } catch (err) {
    throw new RegexFormatError(`not a valid regular expression: ${(err as Error).message}`);
  }
  // Turn named groups into numbered ones, remembering the names by position.
  const names: string[] = [];
  let unnamed = 0;
  const numbered = source.replace(
    /\\.|\[(?:[^\]\\]|\\.)*\]|\((\?<([A-Za-z_][A-Za-z0-9_]*)>|\?)?/g,
    (m, q, name) => {
      if (!m.startsWith('(')) return m;
      if (name) {
        names.push(name);
        return '(';
      }
      if (q) return m; // (?: (?= (?! (?<= (?<!
      names.push(`_${++unnamed}`);
      return m;
    },
  );
  if (!names.includes('status') && !names.includes('code'))
    throw new RegexFormatError('it has no (?<status>…) group; the code label needs one');
  if (!names.some((n) => n === 'request' || n === 'method' || n === 'request_method'))
    throw new RegexFormatError('it has no (?<method>…) or (?<request>…) group; the method label needs one');
  return new RegexParser(new RegExp(numbered, re.flags), names);
}
