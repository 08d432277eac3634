// Once per `pnpm e2e`: prepare the engine (cluster, images) before any test file, and after the
// last one remove whatever a crashed worker may have left running.
import { createDriver } from './driver.ts';

export default async function setup(): Promise<() => Promise<void>> {
  const driver = await createDriver();
  const started = Date.now();
  process.stderr.write(`e2e: driver ${driver.name}; preparing images…\n`);
  await driver.prepare();
  process.stderr.write(`e2e: ${driver.name} ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return async () => {
    const left = await driver.cleanup();
    if (left.length > 0)
      process.stderr.write(`e2e: removed pods left running by a failed file: ${left.join(', ')}\n`);
  };
}
