// Adds up the per-suite counts the summary reporter saved (MULTIPOD_SUMMARY_DIR) into one closing line.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node scripts/summary-total.ts <dir>');
const total = { passed: 0, failed: 0, skipped: 0 };
for (const file of readdirSync(dir).sort()) {
  const counts = JSON.parse(readFileSync(join(dir, file), 'utf8')) as typeof total;
  console.log(
    `${file.replace(/\.json$/, '')}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`,
  );
  total.passed += counts.passed;
  total.failed += counts.failed;
  total.skipped += counts.skipped;
}
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed > 0 ? 1 : 0);
