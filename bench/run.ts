// `pnpm bench <name>` runs bench/<name>/run.ts; with no name, every benchmark in turn.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const here = import.meta.dirname;
const all = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(here, d.name, 'run.ts')))
  .map((d) => d.name);
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of wanted) {
  if (!all.includes(name)) {
    console.error(`unknown benchmark "${name}"; have: ${all.join(', ')}`);
    process.exit(2);
  }
}
// The reference tools (nginx, HAProxy, mtail, inotify-tools, rsync, wrk) come from Debian; as root,
// install whatever is missing (a no-op when all are there). Otherwise each bench names what it lacks.
if (process.getuid?.() === 0) {
  const install = spawnSync('bash', [join(here, '../scripts/install-system-deps.sh')], { stdio: 'inherit' });
  if (install.status !== 0) process.exit(install.status ?? 1);
}

for (const name of wanted.length ? wanted : all) {
  console.log(`\n## bench ${name}\n`);
  await import(join(here, name, 'run.ts'));
}

// Redraw the chart and the tables in docs/benchmarks.md from whatever results now exist.
const chart = spawnSync(process.execPath, [join(here, 'chart.ts')], { stdio: 'inherit' });
if (chart.status !== 0) process.exit(chart.status ?? 1);
