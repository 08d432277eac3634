// Regular expressions an operator writes (the regex: format, filters in ADAPTER_CONFIG) run on
// RE2 (re2js, pure JavaScript), never on V8's backtracking engine: a pattern like (a+)+$ and one
// crafted log line would otherwise hold the event loop, and /metrics with it, for seconds or hours.
// RE2 matches in time linear in the line; the price is its syntax: no backreferences, no lookaround.
import { RE2JS } from 're2js';

export class PatternError extends Error {
  override name = 'PatternError';
}

const RE2_HINT =
  'patterns use RE2 syntax (linear-time matching): no backreferences (\\1, \\k<name>), no lookahead or lookbehind ((?=, (?!, (?<=, (?<!)';

/** Compiles an operator's pattern; a pattern RE2 refuses throws a PatternError saying why. */
export function compilePattern(source: string): RE2JS {
  try {
    return RE2JS.compile(source);
  } catch (err) {
    const why = (err as Error).message.replace(/^error parsing regexp: /, '');
    throw new PatternError(`not a valid regular expression: ${why}; ${RE2_HINT}`);
  }
}

/** The groups of the first match in `text` ([0] is the whole match; unmatched groups undefined), or null. */
export function execPattern(re: RE2JS, groups: number, text: string): (string | undefined)[] | null {
  const m = re.matcher(text);
  if (!m.find()) return null;
  const out = new Array<string | undefined>(groups + 1);
  for (let i = 0; i <= groups; i++) out[i] = m.group(i) ?? undefined;
  return out;
}
