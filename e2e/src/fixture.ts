// `deploy('sidecar')` in a describe block: applies manifests/sidecar before its tests, deletes it
// after, and when a test fails prints every container's logs and the pods' descriptions.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createDriver, type Deployment } from './driver.ts';

export interface DeployedRef {
  /** The deployment; valid inside tests (after beforeAll). */
  readonly current: Deployment;
}

export function deploy(dir: string): DeployedRef {
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
    dep = await driver.apply(dir);
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
