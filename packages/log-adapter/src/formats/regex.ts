// A user's regular expression with named groups: `regex:^(?<remote_addr>\S+) … (?<status>\d{3})`.
// It runs on RE2 (see pattern.ts): linear time in the line, whatever the pattern.
import { compilePattern, execPattern, PatternError } from '../pattern.ts';
import { RegexParser } from './regex-parser.ts';

export class RegexFormatError extends Error {
  override name = 'RegexFormatError';
}

export function regexParser(source: string): RegexParser {
  let re: ReturnType<typeof compilePattern>;
  try {
    re = compilePattern(source);
  } catch (err) {
    if (err instanceof PatternError) throw new RegexFormatError(err.message);
    throw err;
  }
  // Group i+1 is names[i]: its name, or _1, _2 … counting the unnamed groups.
  const groups = re.groupCount();
  const byIndex = new Map(Object.entries(re.namedGroups()).map(([name, i]) => [i, name]));
  const names: string[] = [];
  let unnamed = 0;
  for (let i = 1; i <= groups; i++) names.push(byIndex.get(i) ?? `_${++unnamed}`);
  if (!names.includes('status') && !names.includes('code'))
    throw new RegexFormatError('it has no (?<status>…) group; the code label needs one');
  if (!names.some((n) => n === 'request' || n === 'method' || n === 'request_method'))
    throw new RegexFormatError('it has no (?<method>…) or (?<request>…) group; the method label needs one');
  return new RegexParser((text) => execPattern(re, groups, text), names, 'regex');
}
