// Parses the human units settings are written in: durations (git-sync style `500ms`, `10s`, `2m`, `1h30m`)
// and byte sizes (`512Ki`, `10Mi`, `1G`, plain bytes).

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const DURATION = /^(?:(\d+(?:\.\d+)?)(ms|s|m|h))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** Milliseconds for a duration like `500ms`, `10s`, `1m30s`; `0` alone is allowed. Null if malformed. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (s === '0') return 0;
  if (!DURATION.test(s)) return null;
  let ms = 0;
  for (const [, n, unit] of s.matchAll(DURATION_PART)) ms += Number(n) * DURATION_UNITS[unit!]!;
  return Math.round(ms);
}

/** The same syntax back, whole units from the largest down: `10s`, `1h30m`, `596h31m23s647ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};
const SIZE = /^(\d+(?:\.\d+)?)\s*(|k|K|M|G|T|Ki|Mi|Gi|Ti)B?$/;

/** A byte count as a user would write it: `16Ki`, `64Mi`, or plain bytes when not a whole unit. */
export function formatSize(bytes: number): string {
  for (const unit of ['Ti', 'Gi', 'Mi', 'Ki'])
    if (bytes >= SIZE_UNITS[unit]! && bytes % SIZE_UNITS[unit]! === 0)
      return `${bytes / SIZE_UNITS[unit]!}${unit}`;
  return String(bytes);
}

/** Bytes for a Kubernetes-style quantity like `10Mi`, `1G`, `512`. Null if malformed. */
export function parseSize(text: string): number | null {
  const m = SIZE.exec(text.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2]!]!);
}
