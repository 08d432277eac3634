// `pnpm bench <name>` runs bench/<name>/run.ts; with no name, every benchmark in turn.
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
for (const name of wanted.length ? wanted : all) {
  console.log(`\n## bench ${name}\n`);
  await import(join(here, name, 'run.ts'));
}
