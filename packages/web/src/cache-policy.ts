// Cache-Control per file: HTML revalidates, fingerprinted assets (name.3f9a1c.css) are immutable,
// everything else gets WEB_MAX_AGE (0 = revalidate every time).

/** A fingerprint of 6+ letters/digits before the extension: app.3f9a1c.js, app-3F9A1C7B.js. */
const HASHLIKE = /[.-]([0-9a-zA-Z]{6,})\.[a-z0-9]+$/;

export function isFingerprinted(path: string): boolean {
  const m = HASHLIKE.exec(path);
  // At least one digit, so words like `.bundle.js` or `-normal.css` are not mistaken for hashes.
  return m !== null && /\d/.test(m[1]!);
}

export interface CachePolicy {
  maxAgeMs: number;
  immutableMaxAgeMs: number;
}

export function cacheControl(path: string, contentType: string, policy: CachePolicy): string {
  if (contentType.startsWith('text/html')) return 'no-cache';
  if (policy.immutableMaxAgeMs > 0 && isFingerprinted(path))
    return `public, max-age=${Math.floor(policy.immutableMaxAgeMs / 1000)}, immutable`;
  if (policy.maxAgeMs > 0) return `public, max-age=${Math.floor(policy.maxAgeMs / 1000)}`;
  return 'no-cache';
}
