// The Node.js flags a component's image runs with (ENV NODE_OPTIONS in its node-<component> stage
// of images/Dockerfile), so a benchmark runs the bundle as the image does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function imageNodeOptions(component: string): string {
  const lines = readFileSync(join(import.meta.dirname, '../images/Dockerfile'), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.trim() === `FROM runtime-base AS node-${component}`);
  if (start === -1) throw new Error(`images/Dockerfile has no node-${component} stage`);
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('FROM ')) break;
    const m = /^ENV NODE_OPTIONS=(.*)$/.exec(line.trim());
    if (m) return m[1]!;
  }
  return '';
}
