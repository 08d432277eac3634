// Writes the generated files (see generated.ts): run after changing a dashboard or a rule.
// Usage: node observability/src/write.ts
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { generatedFiles, repoRoot } from './generated.ts';

for (const [file, text] of generatedFiles()) {
  writeFileSync(file, text);
  console.log(relative(repoRoot, file));
}
