// `deploy('sidecar')` in a describe block: applies manifests/sidecar before its tests, deletes it
// after, and when a test fails prints every container's logs and the pods' descriptions.
// `deploy(['sidecar/sidecar-content.yaml', 'sidecar/sidecar.yaml'])` applies files as `kubectl
// apply -f` does.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createDriver, type Deployment } from './driver.ts';
import { targetName } from './render.ts';

export interface DeployedRef {
  /** The deployment; valid inside tests (after beforeAll). */
  readonly current: Deployment;
}

export function deploy(target: string | readonly string[]): DeployedRef {
  const dir = targetName(target);
  let dep: Deployment | undefined;
  let dumped = false;
  const ref: DeployedRef = {
    get current() {
      if (!dep) throw new Error(`${dir} is not deployed (its beforeAll failed)`);
      return dep;
    },
  };
  beforeAll(async () => {
    const driver = await createDriver();
    dep = await driver.apply(target);
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && dep && !dumped) {
      dumped = true; // once per file is enough, and keeps the report readable
      process.stderr.write(`\n----- ${dir}: test "${ctx.task.name}" failed; pod state follows -----\n`);
      process.stderr.write(`${await dep.dump()}\n`);
    }
  });
  afterAll(async () => {
    await dep?.down();
  });
  return ref;
}
