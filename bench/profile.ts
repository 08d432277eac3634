// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: by library and by function.
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

export function category(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)' || url === '') return 'native / runtime';
  if (url.includes('http-proxy-3')) return 'http-proxy-3';
  if (url.includes('/undici/')) return 'undici (HTTP client)';
  if (url.includes('/pino') || url.includes('sonic-boom') || url.includes('thread-stream'))
    return 'access log (pino)';
  if (url.includes('prom-client')) return 'metrics (prom-client)';
  if (
    /node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?(express|router|send|serve-static|finalhandler)\//.test(
      url,
    )
  )
    return 'express';
  const lib = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (lib) return lib[1]!;
  const pkg = /packages\/([\w-]+)\//.exec(url);
  if (pkg) return `${pkg[1]} code`;
  if (/node:(_http|http)/.test(url)) return 'node http';
  if (/node:(net|internal\/stream_base|internal\/net|internal\/dns|dns)/.test(url)) return 'node net';
  if (/node:(internal\/streams|stream)/.test(url)) return 'node streams';
  if (/node:internal\/timers|node:timers/.test(url)) return 'node timers';
  if (url.startsWith('node:')) return 'node other';
  return 'other';
}

export interface ProfileSummary {
  totalMs: number;
  byCategory: { name: string; ms: number; share: number }[];
  topFunctions: { name: string; where: string; ms: number; share: number }[];
}

export function summarize(file: string): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  let total = 0;
  const cats = new Map<string, number>();
  const fns = new Map<string, { where: string; us: number }>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const cat = category(url, functionName);
    if (cat === 'idle') continue;
    total += us;
    cats.set(cat, (cats.get(cat) ?? 0) + us);
    const short = url
      .replace(/^.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '')
      .replace(/^file:\/\/.*\/packages\//, '');
    const key = `${functionName || '(anonymous)'}|${short}:${lineNumber + 1}`;
    const f = fns.get(key) ?? { where: `${short}:${lineNumber + 1}`, us: 0 };
    f.us += us;
    fns.set(key, f);
  }
  const share = (us: number) => Math.round((us / total) * 1000) / 10;
  return {
    totalMs: total / 1000,
    byCategory: [...cats]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: share(us) })),
    topFunctions: [...fns]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, 15)
      .map(([key, f]) => ({
        name: key.split('|')[0]!,
        where: f.where,
        ms: Math.round(f.us / 1000),
        share: share(f.us),
      })),
  };
}
