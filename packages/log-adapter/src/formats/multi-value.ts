// nginx variables that hold one value per upstream tried: `0.010, 0.250` when a request went to two
// servers of one upstream group, `0.010 : 0.250` when an internal redirect sent it on to another
// group, `-` for a try that gave no value. The rule: times (and byte counts) are observed as their
// sum, the time the request spent on upstreams; a status or an address is the last value, the
// upstream that answered; the whole list is never used as one number or one label value.

/** Summed: one number per try, their total is what the request cost. */
export const SUMMED_FIELDS: ReadonlySet<string> = new Set([
  'upstream_response_time',
  'upstream_connect_time',
  'upstream_header_time',
  'upstream_response_length',
  'upstream_bytes_received',
  'upstream_bytes_sent',
]);

/** Last value: the upstream that gave the response, never summed. */
export const LAST_VALUE_FIELDS: ReadonlySet<string> = new Set(['upstream_status', 'upstream_addr']);

/** nginx writes ", " between servers of one group and " : " between groups. */
const SEPARATOR = /, | : /;

/** Sum of the numbers in a list ("0.010, 0.250 : 0.1"); `-` adds nothing; NaN when none or junk. */
export function sumValues(s: string | undefined): number {
  if (s === undefined || s === '' || s === '-') return Number.NaN;
  const single = Number(s);
  if (!Number.isNaN(single)) return single >= 0 ? single : Number.NaN;
  let total = 0;
  let any = false;
  for (const part of s.split(SEPARATOR)) {
    if (part === '-') continue;
    if (part === '' || !/^\d+(\.\d+)?$/.test(part)) return Number.NaN;
    total += Number(part);
    any = true;
  }
  return any ? total : Number.NaN;
}

/** The last value of a list ("502, 200" → "200"); undefined when it is `-` (no value). */
export function lastValue(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const cut = Math.max(s.lastIndexOf(', '), s.lastIndexOf(' : '));
  const last = cut === -1 ? s : s.slice(cut + (s.startsWith(', ', cut) ? 2 : 3));
  return last === '-' || last === '' ? undefined : last;
}
