// The experiments the pod view offers: send traffic through the pod's front door, and publish an
// edit through the sidecar by writing one clearly named file into the content source.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Paths the traffic button asks for: pages, an asset and a missing page (a 404 to count). */
export const TRAFFIC_PATHS = ['/', '/about/', '/assets/site.3f9a1c.css', '/no-such-page'];

export interface TrafficResult {
  readonly sent: number;
  readonly byStatus: Record<string, number>;
  readonly ms: number;
}

export async function sendTraffic(siteUrl: string, count: number, concurrency = 4): Promise<TrafficResult> {
  const started = performance.now();
  const byStatus: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const path = TRAFFIC_PATHS[next++ % TRAFFIC_PATHS.length]!;
      let key: string;
      try {
        const res = await fetch(new URL(path, siteUrl), { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        key = String(res.status);
      } catch {
        key = 'error';
      }
      byStatus[key] = (byStatus[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { sent: count, byStatus, ms: Math.round(performance.now() - started) };
}

/** The one file the pod view writes into the source; removed again when the demo stops. */
export const EDIT_FILE = 'pod-view-edit.html';

export async function writeEdit(source: string, now = new Date()): Promise<{ file: string; path: string }> {
  const file = join(source, EDIT_FILE);
  const stamp = now.toISOString();
  await writeFile(
    file,
    `<!doctype html>
<!-- Written by the multipod demo's pod view ("Edit content"); deleted when the demo stops. -->
<html lang="en">
<head><meta charset="utf-8"><title>Edited at ${stamp}</title>
<link rel="stylesheet" href="/assets/site.3f9a1c.css"></head>
<body><main>
<h1 id="headline">Edited at ${stamp}</h1>
<p>The pod view wrote <code>${EDIT_FILE}</code> into the content source. The
<strong>content-sync</strong> sidecar saw it, published a new snapshot and swapped
<code>current</code>; <strong>web</strong> served it on the next request.</p>
<p><a href="/">Back to the home page</a></p>
</main></body>
</html>
`,
  );
  return { file, path: `/${EDIT_FILE}` };
}

export async function removeEdit(source: string): Promise<void> {
  await rm(join(source, EDIT_FILE), { force: true });
}
