// Bundles a component's src/main.ts into one dist/main.js that runs with plain `node`
// and no node_modules: the image copies this single file.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const pkgDir = process.cwd();
rmSync(join(pkgDir, 'dist'), { recursive: true, force: true });
await build({
  entryPoints: [join(pkgDir, 'src/main.ts')],
  outfile: join(pkgDir, 'dist/main.js'),
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minifySyntax: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies (express, prom-client…) call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __multipodRequire } from 'node:module'; const require = __multipodRequire(import.meta.url);",
  },
});
